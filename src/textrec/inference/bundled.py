"""The recognizer shipped in the package: its files, and how a model argument names them.

    assets/models/<backbone>.onnx         fp32 ONNX: what Recognizer() and `textrec predict` use by default
    assets/models/<backbone>_int8.onnx    INT8 ONNX, present only when it passed the quantize gates
    assets/models/<backbone>.pdparams     the checkpoint (paddle): `init: bundled`, or by name
    assets/models/<backbone>.dict.txt     the dictionary of all three (one character a line)
    assets/models/<backbone>.{json,md}    the model card (sha256 and size of each file)

A model argument ``"bundled"`` (= ``"bundled:onnx"``), ``"bundled:int8"`` or ``"bundled:pdparams"`` names one
of them; anything else is a path. ``textrec bundle`` writes them. No paddle or onnxruntime import here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

BUNDLED_BACKBONE = "mobilenet_v3"  # the one backbone the package ships trained weights for
BundledVariant = Literal["onnx", "int8", "pdparams"]
SUFFIXES: dict[BundledVariant, str] = {"onnx": ".onnx", "int8": "_int8.onnx", "pdparams": ".pdparams"}
DICT_SUFFIX = ".dict.txt"
SPEC = "bundled"


@dataclass(frozen=True)
class BundledModel:
    path: Path
    dictionary: Path | None  # None: a bundle made before dictionaries were explicit, i.e. the built-in 0-9a-z
    backbone: str


def bundled_variant(model: str | os.PathLike | None) -> BundledVariant | None:
    """``None`` or ``"bundled"`` -> "onnx", ``"bundled:<variant>"`` -> the variant; None for a path."""
    if model is None:
        return "onnx"
    if not isinstance(model, str) or model.partition(":")[0] != SPEC:
        return None  # a Path is always a path (Path("bundled") included)
    variant = model.partition(":")[2] or "onnx"
    if variant not in get_args(BundledVariant):
        raise ValueError(f"{model!r}: unknown bundled model; use {SPEC} (ONNX fp32), {SPEC}:int8 or "
                         f"{SPEC}:pdparams")
    return variant  # type: ignore[return-value]


def bundled_dir() -> Path:
    from textrec.models import pretrained  # read at call time: tests point it elsewhere

    return Path(pretrained.BUNDLED_DIR)


def bundled_file(backbone: str, variant: BundledVariant, root: Path | None = None) -> Path:
    return (root or bundled_dir()) / f"{backbone}{SUFFIXES[variant]}"


def bundled_dictionary(backbone: str, root: Path | None = None) -> Path:
    return (root or bundled_dir()) / f"{backbone}{DICT_SUFFIX}"


def bundled_model(variant: BundledVariant = "onnx", backbone: str = BUNDLED_BACKBONE) -> BundledModel:
    """The bundled file of ``variant`` with its dictionary; when this installation has none, an error that says
    what to do instead."""
    from textrec.models.pretrained import PretrainedError

    path = bundled_file(backbone, variant)
    if not path.is_file():
        if variant == "int8" and bundled_file(backbone, "onnx").is_file():
            raise PretrainedError(f"this installation's bundle has no INT8 model ({path}): it did not pass the "
                                  f"quantize gates when bundled (see {path.with_name(backbone + '.md')}); use "
                                  f"--model {SPEC}")
        if variant == "onnx" and bundled_file(backbone, "pdparams").is_file():
            raise PretrainedError(f"this installation's bundle has no ONNX model ({path}), only its checkpoint: "
                                  f"use --model {SPEC}:pdparams (needs paddle), or export it into the bundle "
                                  "with `textrec bundle --reexport`")
        raise PretrainedError(
            f"no bundled model in this installation ({path} is missing). Pass a model instead: "
            "Recognizer('model.onnx' | 'checkpoint.pdparams' | exported_dir), or --model MODEL on the command "
            "line; or build and bundle one: `textrec profile pretrain && dvc repro`, then `textrec bundle`")
    dictionary = bundled_dictionary(backbone)
    return BundledModel(path, dictionary if dictionary.is_file() else None, backbone)
