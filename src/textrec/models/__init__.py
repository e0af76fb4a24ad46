"""CRNN recognizers identical to PaddleOCR's (backbone -> BiLSTM neck -> CTC head).

Modules: ``backbones`` (MobileNetV3-large x0.5, ResNet34_vd), ``neck``, ``head``, ``crnn`` (``build_model``),
``checkpoint`` (PaddleOCR ``.pdparams`` I/O). Importing this package does not import paddle; the
submodules that define layers do.
"""
