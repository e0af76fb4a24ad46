"""The font inventory: which installed font files the renderer may use, and how it picks one.

``src/textrec/assets/fonts.json`` lists every accepted font file by (package, path inside the package), with
its family, category, licence and style facts, plus the rejected files and why (see ``font_scan``). At run time
the files are located inside the installed packages (``importlib.resources``); nothing is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

INVENTORY = "fonts.json"
CATEGORIES = ("sans", "serif", "monospace", "display", "handwriting")


class FontInventoryError(RuntimeError):
    """The inventory names fonts that are not installed (run scripts/setup.sh), or is malformed."""


@dataclass(frozen=True)
class FontFace:
    package: str  # importable package that ships the file
    path: str  # relative to the package directory
    family: str
    style: str
    category: str  # one of CATEGORIES
    licence: str
    weight: int  # OS/2 usWeightClass of the default instance
    italic: bool
    monospace: bool
    condensed: bool
    caps_only: bool  # lower-case letters look like capitals: the renderer upper-cases the label
    axes: tuple[tuple[str, float, float, float], ...] = ()  # variable axes (tag, min, default, max)
    missing: str = ""  # printable ASCII punctuation this face has no (or an empty) glyph for
    file: str = ""  # absolute path, filled in by load_inventory

    @property
    def id(self) -> str:
        return f"{self.package}/{self.path}"

    def to_json(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "file"}
        d["axes"] = [list(a) for a in self.axes]
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> FontFace:
        return cls(**{**d, "axes": tuple(tuple(a) for a in d.get("axes", ()))})


def inventory_path() -> Path:
    return Path(str(resources.files("textrec.assets").joinpath(INVENTORY)))


def load_inventory(path: str | Path | None = None) -> list[FontFace]:
    """Accepted faces with ``file`` resolved to the installed package file; raises if any is missing."""
    p = Path(path) if path is not None else inventory_path()
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        faces = [FontFace.from_json(d) for d in data["fonts"]]
    except (OSError, KeyError, TypeError, ValueError) as e:
        raise FontInventoryError(f"{p}: cannot read the font inventory: {e}") from None
    out, missing = [], []
    for f in faces:
        if f.category not in CATEGORIES:
            raise FontInventoryError(f"{p}: {f.id}: unknown category {f.category!r}")
        try:
            file = Path(str(resources.files(f.package).joinpath(f.path)))
        except ModuleNotFoundError:
            file = None
        if file is None or not file.is_file():
            missing.append(f.id)
            continue
        out.append(FontFace(**{**f.__dict__, "file": str(file)}))
    if missing:
        raise FontInventoryError(
            f"{len(missing)} inventory font(s) are not installed (run scripts/setup.sh), e.g. {missing[:3]}")
    if not out:
        raise FontInventoryError(f"{p}: no fonts")
    return out


class FontBook:
    """Pick a face: category by weight, then a family uniformly, then one of the family's files."""

    def __init__(self, faces: list[FontFace]) -> None:
        self.faces = tuple(faces)
        self._families: dict[str, list[list[int]]] = {c: [] for c in CATEGORIES}
        by_family: dict[tuple[str, str], list[int]] = {}
        for i, f in enumerate(self.faces):
            by_family.setdefault((f.category, f.family), []).append(i)
        for (cat, _), idx in sorted(by_family.items()):
            self._families[cat].append(idx)

    def categories(self) -> dict[str, int]:
        """Number of files per category."""
        return {c: sum(len(f) for f in fams) for c, fams in self._families.items()}

    def pick(self, rng: np.random.Generator, weights: Mapping[str, float]) -> FontFace:
        cats = [c for c in CATEGORIES if weights.get(c, 0.0) > 0 and self._families[c]]
        if not cats:
            raise ValueError(f"no fonts in the weighted categories {dict(weights)}")
        w = np.array([weights[c] for c in cats], dtype=np.float64)
        cat = cats[int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right").clip(0, len(cats) - 1))]
        fams = self._families[cat]
        family = fams[int(rng.integers(len(fams)))]
        return self.faces[family[int(rng.integers(len(family)))]]

    def pick_covering(self, rng: np.random.Generator, weights: Mapping[str, float], label: str,
                      tries: int = 20) -> FontFace:
        """``pick`` again until the face has a glyph for every character of ``label`` (the first pick for an
        alphanumeric label: every face has 0-9a-zA-Z). After ``tries`` misses the last pick is returned and
        the caller drops what it cannot draw."""
        for _ in range(tries):
            face = self.pick(rng, weights)
            if not face.missing or not any(c in face.missing for c in label):
                return face
        return face


def open_font(face: FontFace, size: int, rng: np.random.Generator, bold_bias: float = 0.0):
    """A PIL FreeTypeFont at ``size`` px; a variable font gets a random weight (and width) instance.

    ``bold_bias`` in [0, 1) pushes the sampled weight towards the heavy end (signage is mostly bold).
    """
    from PIL import ImageFont

    font = ImageFont.truetype(face.file, size)
    if face.axes:
        values = []
        for tag, lo, default, hi in face.axes:
            if tag == "wght":
                u = rng.beta(1.0 + 3.0 * bold_bias, 1.0 + 1.0 * (1.0 - bold_bias))
                values.append(lo + (hi - lo) * u)
            elif tag == "wdth" and rng.random() < 0.5:
                values.append(lo + (hi - lo) * rng.random())
            else:
                values.append(default)
        font.set_variation_by_axes(values)
    return font
