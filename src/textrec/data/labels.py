"""Parsers for recognition label files.

Formats:
  tsv    ``images/word_1.png<TAB>Some label``   (PaddleOCR SimpleDataSet; the first tab splits)
  space  ``test/word_1.png Some label``          (DTRB gt files; the first whitespace character splits)
  auto   tab if the line has one, else space
  icdar  ``word_1.png, "Some \\"label\\""``        (ICDAR 2013/2015 word GT: quoted, ``\\"`` and ``\\\\`` escapes)

Files may start with a UTF-8 BOM and use CRLF line ends. Every line yields a ``LabelLine``, with ``error`` set
when it cannot be parsed (so it gets counted); an empty line is not a record, and is yielded with ``blank``
set (and ``error``, for a reader that does not look at ``blank``) so that it is counted too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

LabelFormat = Literal["tsv", "space", "auto", "icdar"]
_SPACE_SPLIT = re.compile(r"(\S+)\s(.*)", re.DOTALL)
BLANK_LINE = "blank line"  # LabelLine.error of an empty line


class LabelFormatError(ValueError):
    """A label-file line that does not follow its format."""


@dataclass(frozen=True)
class LabelLine:
    lineno: int  # 1-based line number in the file
    path: str  # image path as written in the file ("" if the line could not be parsed)
    label: str | None  # raw label; None when the line could not be parsed
    error: str | None = None
    blank: bool = False  # an empty line (error is BLANK_LINE): not a record, but counted where it is


def parse_icdar(line: str) -> tuple[str, str]:
    """``word_1.png, "label"`` -> ("word_1.png", "label"), undoing the ``\\"`` and ``\\\\`` escapes."""
    path, sep, rest = line.partition(",")
    rest = rest.lstrip(" ")
    if not sep or not path.strip():
        raise LabelFormatError("expected 'file, \"label\"'")
    if not rest.startswith('"'):
        raise LabelFormatError("label does not start with a double quote")
    out: list[str] = []
    i = 1
    while i < len(rest):
        c = rest[i]
        if c == "\\" and i + 1 < len(rest) and rest[i + 1] in ('"', "\\"):
            out.append(rest[i + 1])
            i += 2
            continue
        if c == '"':
            if rest[i + 1:].strip():
                raise LabelFormatError(f"unexpected text after the closing quote: {rest[i + 1:]!r}")
            return path.strip(), "".join(out)
        out.append(c)
        i += 1
    raise LabelFormatError("no closing double quote")


def parse_line(line: str, fmt: LabelFormat) -> tuple[str, str]:
    """One line (without its line end) -> (image path, raw label); raises ``LabelFormatError``."""
    if fmt == "icdar":
        return parse_icdar(line)
    if fmt == "tsv" or (fmt == "auto" and "\t" in line):
        path, sep, label = line.partition("\t")
        if not sep or not path:
            raise LabelFormatError("expected 'path<TAB>label'")
        return path, label
    if fmt in ("space", "auto"):
        m = _SPACE_SPLIT.fullmatch(line)
        if m is None:
            raise LabelFormatError("expected 'path label'")
        return m.group(1), m.group(2)
    raise ValueError(f"unknown label format {fmt!r}")


def iter_label_file(path: str | Path, fmt: LabelFormat) -> Iterator[LabelLine]:
    """Stream the records of a label file (constant memory)."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\r\n")
            if not raw:
                yield LabelLine(lineno, "", None, BLANK_LINE, blank=True)
                continue
            try:
                text = raw.decode("utf-8")
                image, label = parse_line(text, fmt)
            except UnicodeDecodeError:
                yield LabelLine(lineno, "", None, "line is not valid UTF-8")
            except LabelFormatError as e:
                yield LabelLine(lineno, "", None, f"{e}: {raw[:80].decode('utf-8', 'replace')!r}")
            else:
                yield LabelLine(lineno, image, label)
