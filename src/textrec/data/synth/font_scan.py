"""Build the font inventory from installed packages; reject fonts that cannot render 0-9a-zA-Z.

Sources (all installed by scripts/setup.sh from PyPI):
  * every ``fontpkg-*`` family (Google Fonts, found through the ``fontpkg.family`` entry points; licence and
    category from the package's metadata.json);
  * ``rendercv-fonts`` and matplotlib's bundled fonts (licence read from the font's own name table,
    category from a small table of their families).

A file is rejected when it cannot be opened, lacks a glyph for one of the 62 characters, renders an empty
glyph, renders fewer than 36 distinct glyphs (tofu or "last resort" boxes), or states no licence.

    python -m textrec.data.synth.font_scan            # rewrite src/textrec/assets/fonts.json
"""

from __future__ import annotations

import json
import string
import sys
from collections import Counter
from collections.abc import Iterator
from importlib import metadata, resources
from pathlib import Path

import numpy as np

from textrec.data.synth.fonts import FontFace, inventory_path

GLYPHS = string.digits + string.ascii_letters
PUNCTUATION = string.punctuation  # optional: a face without some of them is kept, and lists them as missing
_GOOGLE_CATEGORY = {"SANS_SERIF": "sans", "SERIF": "serif", "DISPLAY": "display",
                    "HANDWRITING": "handwriting", "MONOSPACE": "monospace"}
# Families of the two non-fontpkg sources (their fonts carry no category).
_FAMILY_CATEGORY = {
    "DejaVu Sans": "sans", "DejaVu Sans Mono": "monospace", "DejaVu Serif": "serif", "STIXGeneral": "serif",
    "EB Garamond": "serif", "Gentium Book Plus": "serif", "XCharter": "serif", "Fontin": "serif",
}


def _candidates() -> Iterator[tuple[str, str, str, str | None, str | None]]:
    """(distribution, package, path in package, licence or None, category or None) for every font file."""
    for ep in sorted(metadata.entry_points(group="fontpkg.family"), key=lambda e: e.value):
        meta = json.loads(resources.files(ep.value).joinpath("metadata.json").read_text(encoding="utf-8"))
        cats = [_GOOGLE_CATEGORY.get(c, "sans") for c in meta.get("category", ["SANS_SERIF"])]
        # DISPLAY+SANS_SERIF families are display faces; SANS_SERIF+MONOSPACE ones are monospaced.
        cat = "monospace" if "monospace" in cats else "display" if "display" in cats else cats[0]
        for f in meta["files"]:
            yield ep.dist.name if ep.dist else ep.value, ep.value, f["path"], meta.get("license"), cat
    for package, dist, sub in (("rendercv_fonts", "rendercv-fonts", ""), ("matplotlib", "matplotlib",
                                                                           "mpl-data/fonts/ttf")):
        root = Path(str(resources.files(package)))
        for p in sorted((root / sub).rglob("*")):
            if p.suffix.lower() in (".ttf", ".otf"):
                yield dist, package, p.relative_to(root).as_posix(), None, None


def _licence_from_names(names: dict[int, str]) -> str | None:
    text = " ".join(names.get(i, "") for i in (0, 13, 14))
    rules = (("stixfonts.org", "STIX-Font-License (OFL-based)"),  # before OFL: its text cites the OFL
             ("Open Font License", "OFL-1.1"), ("scripts.sil.org/OFL", "OFL-1.1"),
             ("openfontlicense.org", "OFL-1.1"), ("Apache License", "Apache-2.0"),
             ("Ubuntu Font Licence", "Ubuntu-Font-Licence-1.0"),
             ("DejaVu changes are in public domain", "Bitstream-Vera (DejaVu)"))
    for key, lic in rules:
        if key.lower() in text.lower():
            return lic
    return None


def _glyph_checks(file: str) -> tuple[str | None, bool, float]:
    """(rejection reason or None, caps_only, width ratio) from rendering the 62 glyphs at 48 px."""
    from PIL import ImageFont

    font = ImageFont.truetype(file, 48)
    masks = {}
    for c in GLYPHS:
        m = font.getmask(c)
        a = np.asarray(m, dtype=np.uint8).reshape(m.size[1], m.size[0]) if m.size[0] * m.size[1] else None
        if a is None or not a.any():
            return f"empty glyph {c!r}", False, 0.0
        masks[c] = a
    distinct = len({(a.shape, a.tobytes()) for a in masks.values()})
    if distinct < 30:
        return f"only {distinct} distinct glyphs among 0-9a-zA-Z (placeholder boxes or symbols)", False, 0.0
    caps_only = sum(_same_shape(masks[c], masks[c.upper()]) for c in string.ascii_lowercase) >= 20
    cap_h = -font.getbbox("H", anchor="ls")[1]
    width_ratio = float(np.mean([font.getlength(c) for c in GLYPHS]) / max(cap_h, 1))
    return None, caps_only, width_ratio


def _empty_glyph(file: str, c: str) -> bool:
    from PIL import ImageFont

    m = ImageFont.truetype(file, 48).getmask(c)
    return m.size[0] * m.size[1] == 0 or not np.asarray(m).any()


def _same_shape(a: np.ndarray, b: np.ndarray) -> bool:
    """Do two glyph bitmaps look alike once scaled to the same box (small capitals count as capitals)?"""
    import cv2

    x = cv2.resize(a.astype(np.float32), (16, 16), interpolation=cv2.INTER_AREA).ravel()
    y = cv2.resize(b.astype(np.float32), (16, 16), interpolation=cv2.INTER_AREA).ravel()
    x, y = x - x.mean(), y - y.mean()
    den = float(np.linalg.norm(x) * np.linalg.norm(y))
    return den > 0 and float(x @ y) / den > 0.9 and abs(a.shape[0] / b.shape[0] - 1) < 0.4


def examine(dist: str, package: str, path: str, licence: str | None, category: str | None
            ) -> tuple[FontFace | None, str | None]:
    """Accept (face, None) or reject (None, reason) one installed font file."""
    from fontTools.ttLib import TTFont, TTLibError

    file = str(resources.files(package).joinpath(path))
    try:
        tt = TTFont(file, lazy=True)
        cmap = tt.getBestCmap() or {}
    except (TTLibError, OSError, AssertionError) as e:
        return None, f"cannot open: {e}"
    missing = [c for c in GLYPHS if ord(c) not in cmap]
    if missing:
        return None, f"no glyph for {len(missing)} of 0-9a-zA-Z (e.g. {''.join(missing[:8])!r})"
    names = {i: (tt["name"].getDebugName(i) or "") for i in (0, 1, 2, 13, 14, 16, 17)}
    licence = licence or _licence_from_names(names)
    if licence is None:
        return None, "no licence stated by the package metadata or the font's name table"
    family = names[16] or names[1]
    reason, caps_only, width_ratio = _glyph_checks(file)
    if reason:
        return None, reason
    missing = "".join(c for c in PUNCTUATION if ord(c) not in cmap or _empty_glyph(file, c))
    os2 = tt.get("OS/2")
    axes = tuple((a.axisTag, float(a.minValue), float(a.defaultValue), float(a.maxValue))
                 for a in tt["fvar"].axes) if "fvar" in tt else ()
    weight = int(os2.usWeightClass) if os2 else 400
    italic = bool(os2 and os2.fsSelection & 1) or "italic" in path.lower() or "oblique" in path.lower()
    mono = bool(tt["post"].isFixedPitch) if "post" in tt else False
    cat = category or _FAMILY_CATEGORY.get(family) or ("monospace" if mono else "sans")
    condensed = (bool(os2 and os2.usWidthClass <= 4) or width_ratio < 0.62
                 or any(w in family.lower() for w in ("condensed", "narrow", "compressed")))
    face = FontFace(package=package, path=path, family=family, style=names[17] or names[2], category=cat,
                    licence=licence, weight=weight, italic=italic, monospace=mono or cat == "monospace",
                    condensed=condensed, caps_only=caps_only, axes=axes, missing=missing)
    return face, None


def scan() -> dict:
    """Examine every candidate file; the inventory as a JSON-ready dict."""
    fonts, rejected, versions = [], [], {}
    for dist, package, path, licence, category in _candidates():
        versions[dist] = metadata.version(dist)
        face, reason = examine(dist, package, path, licence, category)
        if face is None:
            rejected.append({"package": package, "path": path, "reason": reason})
        else:
            fonts.append(face.to_json())
    return {"glyphs": GLYPHS, "optional_glyphs": PUNCTUATION, "packages": dict(sorted(versions.items())), "fonts": fonts,
            "rejected": rejected, "summary": summarize([FontFace.from_json(f) for f in fonts])}


def summarize(faces: list[FontFace]) -> dict:
    return {
        "files": len(faces),
        "families": len({(f.category, f.family) for f in faces}),
        "by_category": dict(sorted(Counter(f.category for f in faces).items())),
        "families_by_category": dict(sorted(Counter(c for c, _ in {(f.category, f.family) for f in faces}).items())),
        "licences": dict(sorted(Counter(f.licence for f in faces).items())),
        "bold_capable": sum(f.weight >= 600 or any(a[0] == "wght" and a[3] >= 600 for a in f.axes) for f in faces),
        "italic": sum(f.italic for f in faces),
        "condensed": sum(f.condensed or any(a[0] == "wdth" and a[1] < 100 for a in f.axes) for f in faces),
        "monospace": sum(f.monospace for f in faces),
        "caps_only": sum(f.caps_only for f in faces),
        "variable": sum(bool(f.axes) for f in faces),
        "all_punctuation": sum(not f.missing for f in faces),
    }


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else inventory_path()
    inv = scan()
    out.write_text(json.dumps(inv, indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {inv['summary']['files']} fonts accepted, {len(inv['rejected'])} rejected")
    print(json.dumps(inv["summary"], indent=1))
    for r in inv["rejected"]:
        print(f"  rejected {r['package']}/{r['path']}: {r['reason']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
