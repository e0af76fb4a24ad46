"""Write an HTML template for `dvc plots show` that draws its charts without internet.

DVC's own page loads vega, vega-lite and vega-embed from a CDN, so offline it stays blank. This template
carries the three libraries inline (from the `vl-convert-python` package of the dev extra, which ships
them) and leaves out DVC's `{scripts}` placeholder, so the CDN tags are never added:

    .venv/bin/python scripts/plots_offline.py                 # -> .dvc/plots/offline.html (~0.9 MB, not in git)
    .venv/bin/dvc plots show --html-template .dvc/plots/offline.html    # -> dvc_plots/index.html

The page needs no network: every chart's data is inline too (that is how DVC writes it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / ".dvc" / "plots" / "offline.html"
VEGA_LITE = "5.20"  # DVC 3's templates are Vega-Lite 5 specs
PLACEHOLDERS = ("{plot_divs}", "{refresh_tag}", "{scripts}")  # what DVC's HTML writer replaces


def page(bundle: str, versions: str = "") -> str:
    """The template around ``bundle`` (JavaScript that defines ``vegaEmbed`` globally). The bundle runs in a
    function scope, so its top-level names cannot clash with the ``var spec`` of DVC's plot scripts, and
    ``</script`` inside it is escaped, so it cannot end the tag early."""
    for p in PLACEHOLDERS:
        if p in bundle:
            raise ValueError(f"the JavaScript bundle contains DVC's placeholder {p}; DVC would replace it")
    js = bundle.replace("</script", "<\\/script")
    return ("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n{refresh_tag}\n<title>DVC plots</title>\n"
            f"<!-- vega, vega-lite and vega-embed inline ({versions or 'see scripts/plots_offline.py'}; BSD-3-Clause,"
            " with their dependencies), written by scripts/plots_offline.py: no network needed -->\n"
            f"<script>\n(function () {{\n{js}\n}})();\n</script>\n"
            "<style>table { border-spacing: 15px; }</style>\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    try:
        import vl_convert
    except ImportError:
        print("plots_offline: needs the vl-convert-python package (the dev extra), which ships the "
              "JavaScript: run `bash scripts/setup.sh`", file=sys.stderr)
        return 1
    # the default snippet sets window.vegaEmbed, window.vegaLite and window.vega, as the CDN scripts do
    bundle = vl_convert.javascript_bundle(vl_version=VEGA_LITE)
    versions = (f"vega {vl_convert.get_vega_version()}, vega-lite {VEGA_LITE}, "
                f"vega-embed {vl_convert.get_vega_embed_version()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page(bundle, versions), encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB): "
          f"dvc plots show --html-template {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
