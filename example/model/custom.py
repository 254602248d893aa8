from dr_onnx_hooks import load_model, read_input_data, score
