"""Whether one record (image bytes and label) is usable, and why not: the one decision for every reader.

Training's index pass (``data.dataset``), evaluation, the export checks' image samples and conversion's
manifests (``data.manifest.inspect_sample``) all call ``check_record``, so a record that training rejects is
rejected everywhere, for the same reason (``data.reasons``).

The reason is the first of these checks that fails, cheapest first: the image is there, the label is there,
it is UTF-8, the charset accepts it (``Charset.encode``: too long, unknown characters, empty), the image
decodes. So the reason never depends on whether a caller decodes the image (``decode=False``: training's lazy
mode, which reports a bad image only when it meets it).

    check = check_record(image_bytes, label_bytes, charset)
    if check.ok: x = normalize_resize(check.image)   # [3, 32, 100] float32
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textrec.charset import Charset, EncodeResult
from textrec.data.reasons import Reason
from textrec.preprocess import ImageDecodeError, decode_image


@dataclass(frozen=True)
class RecordCheck:
    """``reason`` None: usable. ``image``: the decoded uint8 [H, W, 3] BGR image whenever it was decoded (also
    for a record rejected for its label, so a manifest still gets its size)."""

    reason: Reason | None
    detail: str = ""  # the label, the decoder's message, ...
    label: str | None = None  # the stored label as text (None: missing or not UTF-8)
    encoded: EncodeResult | None = None  # the charset's encoding (None before the label could be read)
    image: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def label_text(label: str | bytes | None) -> str | None:
    """A stored label as text, for display only (a manifest's ``label`` column): bytes that are not UTF-8
    keep their escapes (``b'\\xff'`` -> ``\\xff``); ``check_record`` rejects them."""
    if isinstance(label, bytes):
        return label.decode("utf-8", errors="backslashreplace")
    return label


def _decode(image: bytes) -> tuple[np.ndarray | None, str]:
    try:
        return decode_image(image), ""
    except ImageDecodeError as e:
        return None, str(e)


def check_record(image: bytes | None, label: str | bytes | None, charset: Charset, *, decode: bool = True,
                 missing: Reason = "missing_image") -> RecordCheck:
    """The verdict on one record: ``label`` as stored (bytes from an LMDB, text from a label file);
    ``missing``: the reason for an absent image (``missing_file`` for a label file's line)."""
    if image is None:
        return RecordCheck(missing)
    decoded, error = _decode(image) if decode else (None, "")
    if label is None:
        return RecordCheck("missing_label", image=decoded)
    if isinstance(label, bytes):
        try:
            label = label.decode("utf-8")
        except UnicodeDecodeError as e:
            return RecordCheck("label_not_utf8", str(e), image=decoded)
    enc = charset.encode(label)
    if enc.reason is not None:
        return RecordCheck(enc.reason, label, label, enc, decoded)
    if decode and decoded is None:
        return RecordCheck("undecodable", f"{error} (label {label!r})", label, enc)
    return RecordCheck(None, "", label, enc, decoded)
