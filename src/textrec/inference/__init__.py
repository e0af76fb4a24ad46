"""Inference engines (Paddle dygraph checkpoint, Paddle Inference, ONNX Runtime) and prediction."""
