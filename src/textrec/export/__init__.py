"""Export of trained checkpoints: Paddle inference model, ONNX, parity checks and INT8 quantization."""
