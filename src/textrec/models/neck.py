"""Sequence neck (PaddleOCR ``SequenceEncoder`` with ``encoder_type: rnn``).

Shape: [N, C, 1, T] -> Im2Seq -> [N, T, C] -> 2-layer bidirectional LSTM -> [N, T, 2 * hidden].
Parameter names: ``encoder.lstm.*`` (paddle's ``nn.LSTM`` exposes each weight twice: flattened
``weight_ih_l0``... and per cell ``0.cell_fw.weight_ih``...; both names are the same tensor).
"""

from __future__ import annotations

import paddle
from paddle import nn


class Im2Seq(nn.Layer):
    """[N, C, 1, W] -> [N, W, C]: the feature columns become the time steps."""

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        h = x.shape[2]
        if h not in (1, -1):  # -1: unknown while tracing a static graph
            raise ValueError(f"Im2Seq expects feature height 1, got input shape {list(x.shape)}")
        x = x.reshape([0, 0, -1])  # [N, C, W]; 0/-1 keep batch and width dynamic for export
        return x.transpose([0, 2, 1])  # [N, W, C]


class BiLSTMEncoder(nn.Layer):
    """[N, T, in_channels] -> [N, T, 2 * hidden_size] (batch-major, no dropout, zero initial state)."""

    def __init__(self, in_channels: int, hidden_size: int, num_layers: int = 2) -> None:
        super().__init__()
        self.out_channels = 2 * hidden_size
        self.lstm = nn.LSTM(in_channels, hidden_size, num_layers=num_layers, direction="bidirect")

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        y, _ = self.lstm(x)
        return y


class SequenceNeck(nn.Layer):
    """Shape: [N, in_channels, 1, T] -> [N, T, 2 * hidden_size]; ``out_channels`` = 2 * hidden_size."""

    def __init__(self, in_channels: int, hidden_size: int) -> None:
        super().__init__()
        self.encoder_reshape = Im2Seq()
        self.encoder = BiLSTMEncoder(in_channels, hidden_size)
        self.out_channels = self.encoder.out_channels

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        return self.encoder(self.encoder_reshape(x))
