from dr_onnx_hooks.flask_ext import init_app  # noqa: F401  (DRUM calls it: 4xx before our hooks keep their status)
