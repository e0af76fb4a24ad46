"""The CRNN recognizer: backbone -> BiLSTM neck -> CTC head, identical to PaddleOCR's
``rec_mv3_none_bilstm_ctc`` / ``rec_r34_vd_none_bilstm_ctc`` (same math, parameter names and shapes).

    model = build_model("mobilenet_v3", charset.num_classes)
    model.eval(); probs = model(x)   # x [N, 3, 32, W] float32 -> probs [N, W/4, num_classes]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import paddle
from paddle import nn

from textrec.config.model import BackboneName
from textrec.models.backbones import build_backbone
from textrec.models.checkpoint import FOLD_KEY, assign_weights, detect_backbone, read_params
from textrec.models.head import CTCHead
from textrec.models.neck import SequenceNeck

# LSTM hidden size of PaddleOCR's configs for each backbone
HIDDEN_SIZES: dict[BackboneName, int] = {"mobilenet_v3": 96, "resnet34_vd": 256}


class CRNN(nn.Layer):
    """Shape: [N, 3, 32, W] -> [N, W/4, num_classes] (W = 100 -> T = 25).

    Training mode returns logits (for CTC loss); eval mode returns softmax probabilities.
    """

    def __init__(self, backbone: nn.Layer, neck: SequenceNeck, head: CTCHead, backbone_name: BackboneName) -> None:
        super().__init__()
        self.backbone_name = backbone_name
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.num_classes = head.out_channels

    def fold_head(self, fold: np.ndarray) -> CRNN:
        """A fresh folded head (``fold`` [S, num_classes], models/head.py) in place of the head; returns self.
        Its parameters are new: an optimizer built before must be built again."""
        self.head = CTCHead(self.neck.out_channels, self.num_classes, fold=fold)
        return self

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        f = self.backbone(x)  # [N, C, 1, T]
        s = self.neck(f)  # [N, T, 2 * hidden]
        return self.head(s)  # [N, T, num_classes]


def build_model(backbone: BackboneName, num_classes: int, hidden_size: int | None = None,
                fc_decay: float = 0.0, fold: np.ndarray | None = None) -> CRNN:
    """Freshly initialised CRNN; ``num_classes`` includes the CTC blank (37 for 0-9a-z).

    ``hidden_size`` defaults to PaddleOCR's (96 for mobilenet_v3, 256 for resnet34_vd); ``fold`` [S,
    num_classes]: a folded head (models/head.py) with S columns.
    """
    if num_classes < 2:
        raise ValueError(f"num_classes must count the blank and at least one character, got {num_classes}")
    bb = build_backbone(backbone)
    neck = SequenceNeck(bb.out_channels, HIDDEN_SIZES[backbone] if hidden_size is None else hidden_size)
    head = CTCHead(neck.out_channels, num_classes, fc_decay=fc_decay, fold=fold)
    return CRNN(bb, neck, head, backbone)


def load_model(path: str | Path, num_classes: int, backbone: BackboneName | None = None) -> CRNN:
    """Eval-mode CRNN with the weights of the checkpoint ``path``, checked name by name (backbone detected
    from its keys when not given; folded when it carries a fold)."""
    params = read_params(path)
    model = build_model(backbone or detect_backbone(params), num_classes, fold=params.get(FOLD_KEY))
    assign_weights(model, params, source=str(path))
    model.eval()
    return model
