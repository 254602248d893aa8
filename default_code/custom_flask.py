from dr_onnx_hooks.flask_ext import init_app  # DRUM calls it: 4xx raised before our hooks keep their status
