"""The one place where characters become class ids and back.

CTC convention (PaddleOCR, DTRB): id 0 is the blank, ids 1..N are the dictionary characters in file order,
so ``num_classes == len(characters) + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np

# Dictionaries shipped in the package, named in params as ``builtin:<name>``: DTRB's 36 characters and
# PaddleOCR's English dictionary (ppocr/utils/en_dict.txt: the 95 printable ASCII characters, space last).
BUILTIN_PREFIX = "builtin:"
BUILTIN_DICTS = {"0-9a-z": "dict_0-9a-z.txt", "en": "dict_en.txt"}
DEFAULT_DICT = BUILTIN_DICTS["0-9a-z"]
DICT_SIDECAR = ".dict.txt"  # <stem>.dict.txt beside a model file: the dictionary it was trained with
# why a label cannot be trained on (part of textrec.data.reasons' vocabulary)
LabelReason = Literal["empty", "too_long", "unknown_chars"]


class CharsetError(ValueError):
    """A dictionary file that cannot define a charset (duplicates, empty or multi-character lines)."""


@dataclass(frozen=True)
class EncodeResult:
    """Outcome of encoding one label: ``ids`` is empty when the label is unusable, with ``reason`` set."""

    ids: tuple[int, ...]
    text: str  # the normalised label: lower-cased (if configured) and restricted to the dictionary
    reason: LabelReason | None = None


@dataclass(frozen=True)
class Charset:
    characters: tuple[str, ...]
    lowercase: bool = True  # DTRB protocol for the built-in 0-9a-z dictionary
    drop_unknown: bool = True  # drop characters outside the dictionary instead of rejecting the label
    max_text_length: int = 25

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for i, ch in enumerate(self.characters, start=1):
            if len(ch) != 1:
                raise CharsetError(f"dictionary line {i}: expected exactly one character, got {ch!r}")
            if ch in seen:
                raise CharsetError(f"dictionary line {i}: duplicate character {ch!r}")
            seen.add(ch)
        if not self.characters:
            raise CharsetError("dictionary is empty")
        object.__setattr__(self, "_index", {c: i + 1 for i, c in enumerate(self.characters)})

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path | None = None, *, lowercase: bool | None = None,
                  drop_unknown: bool = True, max_text_length: int = 25) -> Charset:
        """Load a dictionary: one character per line. ``path=None`` is the built-in 0-9a-z list;
        ``builtin:<name>`` names a dictionary shipped in the package (``BUILTIN_DICTS``).

        ``lowercase=None`` follows the DTRB rule: lower-case labels only for a dictionary without
        upper-case letters (for the built-in list this is True; a case-sensitive dictionary keeps case).
        """
        name, text = read_dictionary(path)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines = lines[:-1]  # the final newline does not make an empty line
        chars = []
        for i, line in enumerate(lines, start=1):
            line = line.rstrip("\r")
            if line == "":
                raise CharsetError(f"{name} line {i}: empty line")
            chars.append(line)
        if len(set(chars)) != len(chars):  # name the file here: __post_init__ only knows the characters
            dup = next(c for i, c in enumerate(chars) if c in chars[:i])
            raise CharsetError(f"{name} line {chars.index(dup, chars.index(dup) + 1) + 1}: duplicate character "
                               f"{dup!r} (first on line {chars.index(dup) + 1})")
        if lowercase is None:
            lowercase = not any(c.isupper() for c in chars)
        return cls(tuple(chars), lowercase=lowercase, drop_unknown=drop_unknown,
                   max_text_length=max_text_length)

    # ---- properties -----------------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return len(self.characters) + 1

    @property
    def blank(self) -> int:
        return 0

    def dictionary_text(self) -> str:
        """The dictionary file's content (one character per line), as ``from_file`` reads it back."""
        return "".join(c + "\n" for c in self.characters)

    def table(self) -> list[str]:
        """Class table as PaddleOCR prints it: ``["blank", c1, ..., cN]``."""
        return ["blank", *self.characters]

    # ---- labels ---------------------------------------------------------------------------------------
    def normalize(self, label: str) -> str:
        """Lower-case (if configured) and drop characters outside the dictionary (if configured)."""
        if self.lowercase:
            label = label.lower()
        if self.drop_unknown:
            index = self._index  # type: ignore[attr-defined]
            label = "".join(c for c in label if c in index)
        return label

    def encode(self, label: str) -> EncodeResult:
        """Encode a raw label. Too long is judged on the raw label, as PaddleOCR's CTCLabelEncode does."""
        if len(label) > self.max_text_length:
            return EncodeResult((), self.normalize(label), "too_long")
        text = self.normalize(label)
        index = self._index  # type: ignore[attr-defined]
        if any(c not in index for c in text):
            return EncodeResult((), text, "unknown_chars")
        if not text:
            return EncodeResult((), text, "empty")
        return EncodeResult(tuple(index[c] for c in text), text)

    def decode_ids(self, ids: list[int] | np.ndarray) -> str:
        """Map class ids (no CTC collapsing) to text; blanks are skipped."""
        return "".join(self.characters[i - 1] for i in ids if i != 0)


def read_dictionary(path: str | Path | None) -> tuple[str, str]:
    """(name for messages, text) of a dictionary file or a ``builtin:<name>``; one line error if missing."""
    if path is None or str(path).startswith(BUILTIN_PREFIX):
        key = "0-9a-z" if path is None else str(path)[len(BUILTIN_PREFIX):]
        if key not in BUILTIN_DICTS:
            raise CharsetError(f"unknown built-in dictionary {str(path)!r}; known: "
                               f"{[BUILTIN_PREFIX + k for k in BUILTIN_DICTS]}")
        return (f"{BUILTIN_PREFIX}{key}",
                resources.files("textrec.assets").joinpath(BUILTIN_DICTS[key]).read_text(encoding="utf-8"))
    try:
        return str(path), Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise CharsetError(f"{path}: cannot read the dictionary file ({e})") from None


def dictionary_beside(model: str | Path) -> Path:
    """Where the dictionary of a model file (``x.pdparams``, ``x.onnx``) is kept: ``x.dict.txt`` beside it."""
    p = Path(model)
    return p.with_name(p.name.removesuffix(p.suffix) + DICT_SIDECAR) if p.suffix else p.with_name(p.name + DICT_SIDECAR)
