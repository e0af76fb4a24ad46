"""Charset and model sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BackboneName = Literal["mobilenet_v3", "resnet34_vd"]
BACKBONES: tuple[BackboneName, ...] = ("mobilenet_v3", "resnet34_vd")


@dataclass(frozen=True)
class CharsetConfig:
    dict_path: str | None = None  # None: the built-in 0-9a-z dictionary shipped in the package
    lowercase: bool | None = None  # None: lower-case labels iff the dictionary has no upper-case letters
    drop_unknown: bool = True  # DTRB: drop characters outside the dictionary
    max_text_length: int = 25

    def build(self):  # -> Charset (imported lazily to keep config import-light)
        from textrec.charset import Charset

        return Charset.from_file(self.dict_path, lowercase=self.lowercase, drop_unknown=self.drop_unknown,
                                 max_text_length=self.max_text_length)


@dataclass(frozen=True)
class ModelConfig:
    backbones: tuple[BackboneName, ...] = BACKBONES
    image_shape: tuple[int, int, int] = (3, 32, 100)  # C, H, W fed to the network
