"""Typed backbone factory: ``build_backbone("mobilenet_v3" | "resnet34_vd")``.

Both map an image batch [N, 3, 32, W] to a feature map [N, out_channels, 1, W/4]
(W = 100 -> 25 time steps); ``out_channels`` is 480 (MobileNetV3) or 512 (ResNet34_vd).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textrec.config.model import BackboneName

if TYPE_CHECKING:
    from paddle import nn


def build_backbone(name: BackboneName, in_channels: int = 3) -> nn.Layer:
    """Build a freshly initialised backbone; the returned layer exposes ``out_channels``."""
    from textrec.models.backbones.mobilenet_v3 import MobileNetV3
    from textrec.models.backbones.resnet_vd import ResNet34vd

    factories: dict[BackboneName, Callable[[int], nn.Layer]] = {
        "mobilenet_v3": MobileNetV3,
        "resnet34_vd": ResNet34vd,
    }
    if name not in factories:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(factories)}")
    return factories[name](in_channels)
