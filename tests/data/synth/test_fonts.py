from __future__ import annotations

import json
import string
from collections import Counter
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFont

from textrec.data.synth.font_scan import examine, summarize
from textrec.data.synth.fonts import CATEGORIES, FontBook, FontFace, FontInventoryError, load_inventory

GLYPHS = string.digits + string.ascii_letters


def test_inventory_is_large_and_varied(faces: list[FontFace]) -> None:
    s = summarize(faces)
    assert s["files"] >= 300 and s["families"] >= 150, s
    assert all(s["by_category"].get(c, 0) >= 10 for c in CATEGORIES), s["by_category"]
    assert s["bold_capable"] >= 100 and s["italic"] >= 50 and s["condensed"] >= 20, s
    assert set(s["licences"]) <= {"OFL-1.1", "Apache-2.0", "Bitstream-Vera (DejaVu)", "Ubuntu-Font-Licence-1.0",
                                  "STIX-Font-License (OFL-based)"}, s["licences"]
    assert len({f.id for f in faces}) == len(faces)
    assert {"fontpkg_bungee", "rendercv_fonts", "matplotlib"} <= {f.package for f in faces}
    assert next(f for f in faces if f.family == "Bungee").caps_only


def test_every_font_renders_all_62_glyphs(faces: list[FontFace]) -> None:
    for face in faces:
        font = ImageFont.truetype(face.file, 24)
        shapes = set()
        for c in GLYPHS:
            m = font.getmask(c)
            w, h = m.size
            assert w * h > 0 and max(m.getbbox() or (0, 0, 0, 0)) > 0, (face.id, c)
            shapes.add(bytes(m))
        assert len(shapes) >= 30, face.id  # not one placeholder box for everything


def test_scan_rejects_glyphless_and_placeholder_fonts() -> None:
    ttf = "mpl-data/fonts/ttf"
    face, reason = examine("matplotlib", "matplotlib", f"{ttf}/DejaVuSans.ttf", None, None)
    assert reason is None and face is not None
    assert (face.category, face.licence) == ("sans", "Bitstream-Vera (DejaVu)")
    face, reason = examine("matplotlib", "matplotlib", f"{ttf}/DejaVuSansDisplay.ttf", None, None)
    assert face is None and "no glyph" in reason
    face, reason = examine("matplotlib", "matplotlib", f"{ttf}/LastResortHE-Regular.ttf", None, None)
    assert face is None and "distinct glyphs" in reason
    face, reason = examine("matplotlib", "matplotlib", f"{ttf}/cmr10.ttf", None, None)
    assert face is None and "licence" in reason


def test_committed_inventory_records_rejections() -> None:
    inv = json.loads(resources.files("textrec.assets").joinpath("fonts.json").read_text(encoding="utf-8"))
    assert inv["glyphs"] == GLYPHS
    reasons = {r["path"]: r["reason"] for r in inv["rejected"]}
    assert any("LastResort" in p for p in reasons)
    assert inv["summary"] == summarize([FontFace.from_json(f) for f in inv["fonts"]])
    assert "wordfreq" not in inv["packages"] and "rendercv-fonts" in inv["packages"]


def test_fontbook_follows_category_weights(faces: list[FontFace]) -> None:
    book = FontBook(faces)
    rng = np.random.default_rng(0)
    picks = Counter(book.pick(rng, {"monospace": 1.0}).category for _ in range(200))
    assert picks == Counter({"monospace": 200})
    picks = Counter(book.pick(rng, {"serif": 1.0, "handwriting": 1.0}).category for _ in range(400))
    assert set(picks) == {"serif", "handwriting"} and min(picks.values()) > 120
    with pytest.raises(ValueError, match="no fonts"):
        book.pick(rng, {"sans": 0.0})


def test_missing_font_package_is_an_error(tmp_path: Path, faces: list[FontFace]) -> None:
    entry = faces[0].to_json()
    bad = dict(entry, package="textrec", path="assets/no-such-font.ttf")
    p = tmp_path / "fonts.json"
    p.write_text(json.dumps({"fonts": [entry, bad]}), encoding="utf-8")
    with pytest.raises(FontInventoryError, match="not installed"):
        load_inventory(p)
    p.write_text("{}", encoding="utf-8")
    with pytest.raises(FontInventoryError, match="cannot read"):
        load_inventory(p)
