"""Charset and model sections."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from textrec.config._build import PosInt, Range

BackboneName = Literal["mobilenet_v3", "resnet34_vd"]
BACKBONES: tuple[BackboneName, ...] = ("mobilenet_v3", "resnet34_vd")
# model.image_shape: BGR images; both backbones reduce 32 rows to a feature height of 1; W/4 time steps
Channels = Annotated[int, Range(3, 3)]
Height = Annotated[int, Range(32, 32)]
Width = Annotated[int, Range(4)]  # at least one time step
IMAGE_SHAPE = (3, 32, 100)  # C, H, W: PaddleOCR's CRNN input (the default of model.image_shape)


@dataclass(frozen=True)
class CharsetConfig:
    # a file (one character per line), or a dictionary shipped in the package: builtin:0-9a-z (DTRB's 36, the
    # default when None) or builtin:en (PaddleOCR's en_dict.txt: 95 printable ASCII characters, case kept)
    dict_path: str | None = None
    lowercase: bool | None = None  # None: lower-case labels iff the dictionary has no upper-case letters
    drop_unknown: bool = True  # DTRB: drop characters outside the dictionary
    max_text_length: PosInt = 25

    def build(self):  # -> Charset (imported lazily to keep config import-light)
        from textrec.charset import Charset

        return Charset.from_file(self.dict_path, lowercase=self.lowercase, drop_unknown=self.drop_unknown,
                                 max_text_length=self.max_text_length)


@dataclass(frozen=True)
class ModelConfig:
    backbones: tuple[BackboneName, ...] = BACKBONES
    image_shape: tuple[Channels, Height, Width] = IMAGE_SHAPE  # C, H, W fed to the network
