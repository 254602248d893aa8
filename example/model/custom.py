from dr_onnx_hooks import load_model, score
