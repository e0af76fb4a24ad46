"""What `dvc plots show` draws: dvc.yaml's top-level plots read the files the stages write (PathsConfig), DVC
renders every one of them from small files made here, and the offline page template leaves DVC's CDN
scripts out."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.pipeline.svg_text import GAP, SVG, crowded_pairs, text_boxes
from tests.scripts_kit import load_script
from textrec.config import BACKBONES, load_params
from textrec.reporting.collect import accuracy_long
from textrec.training.metrics_log import FIELDS, MetricsCsv

REPO = Path(__file__).resolve().parents[2]
PLOTS = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["plots"]


def _resolved_sources() -> dict[str, dict[Path, str]]:
    """plot id -> {file (params.yaml's paths filled in): y field}."""
    paths = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["paths"]
    fill = lambda s: re.sub(r"\$\{paths\.(\w+)\}", lambda m: paths[m[1]], s)  # noqa: E731
    return {pid: {Path(fill(f)): y for f, y in d["y"].items()} for p in PLOTS for pid, d in p.items()}


def test_curves_cover_every_backbone_and_the_accuracy_plot_reads_the_report():
    paths = load_params(REPO / "params.yaml").paths
    sources = _resolved_sources()
    logs = {paths.train_log(bb) for bb in BACKBONES}
    for pid in ("train_loss", "val_accuracy", "learning_rate", "images_per_second"):
        assert set(sources[pid]) == logs, pid
        assert set(sources[pid].values()) <= set(FIELDS), pid
    assert sources["accuracy_per_benchmark"] == {paths.accuracy_csv(): "accuracy"}
    for p in PLOTS:  # a custom template named here is a file DVC finds
        (d,) = p.values()
        if d["template"] not in ("linear", "simple"):
            assert (REPO / ".dvc" / "plots" / f"{d['template']}.json").is_file(), d["template"]


@pytest.fixture(scope="module")
def plots_json(tmp_path_factory) -> dict:
    """`dvc plots show --json` in a copy of the project's dvc.yaml, params and templates, over made-up files
    (one backbone without INT8 numbers, validation accuracy on some rows only)."""
    root = tmp_path_factory.mktemp("repo")
    for f in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / f, root / f)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True)
    shutil.copytree(REPO / ".dvc" / "plots", root / ".dvc" / "plots", ignore=shutil.ignore_patterns("*.html"))
    paths = load_params(root / "params.yaml").paths
    for k, bb in enumerate(BACKBONES):
        log = MetricsCsv(root / paths.train_log(bb))
        for step in range(1, 21):
            # each backbone's curves apart, so that the screenshots below show both lines
            log.append(step, 0, (3.0 + k) / step, 1e-3 * (1 + k), 50.0 + 5 * k,
                       0.01 * step + 0.1 * k if step % 10 == 0 else None)
        log.close()
    table = pd.DataFrame([{"benchmark": b, "count": 10, f"{BACKBONES[0]} fp32": 0.012, f"{BACKBONES[0]} int8": 0.01,
                           f"{BACKBONES[1]} fp32": 0.0, f"{BACKBONES[1]} int8": None} for b in ("IIIT5k", "SVT")])
    accuracy_long(table).to_csv(root / paths.accuracy_csv(), index=False)
    out = subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "--json"], cwd=root, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def test_dvc_draws_every_plot(plots_json):
    assert not plots_json.get("errors"), plots_json.get("errors")
    assert set(plots_json["data"]) == {pid for p in PLOTS for pid in p}
    for pid, (item,) in plots_json["data"].items():
        values = item["content"]["data"]["values"]
        assert values, pid
    files = {v["filename"] for v in plots_json["data"]["train_loss"][0]["content"]["data"]["values"]}
    assert len(files) == len(BACKBONES)  # one line per backbone on one chart


def test_accuracy_plot_has_a_bar_per_model_and_skips_a_missing_int8(plots_json):
    (item,) = plots_json["data"]["accuracy_per_benchmark"]
    values = item["content"]["data"]["values"]
    models = {v["model"] for v in values}
    assert models == {f"{BACKBONES[0]} fp32", f"{BACKBONES[0]} int8", f"{BACKBONES[1]} fp32"}
    spec = json.dumps(item["content"])
    assert '"format": ".1%"' in spec  # the value written on each bar


@pytest.mark.parametrize("pid", ["train_loss", "val_accuracy", "learning_rate", "images_per_second"])
def test_each_backbone_has_its_own_colour(plots_json, pid):
    """The curves' colour follows a field with one value per backbone's file (DVC's linear and simple
    templates colour by revision: both backbones of the workspace in one colour)."""
    (item,) = plots_json["data"][pid]
    colour = item["content"]["encoding"]["color"]["field"]
    values = item["content"]["data"]["values"]
    assert len({v[colour] for v in values}) == len(BACKBONES), colour


def test_accuracy_bars_give_each_value_its_own_row(plots_json):
    """Horizontal bars, one row per benchmark x model, the value to the right of its bar: the row (the offset
    step) is taller than the label's font, so no two values can overlap however many bars a benchmark has
    (vertical bars put 5 labels side by side over 5 narrow bars: `92.92.92.0`)."""
    (item,) = plots_json["data"]["accuracy_per_benchmark"]
    spec = item["content"]["spec"]
    enc = spec["encoding"]
    assert enc["y"]["field"] == "benchmark" and enc["yOffset"]["field"] == "model"
    assert enc["x"]["field"] == "accuracy"
    (text,) = [layer["mark"] for layer in spec["layer"] if layer["mark"]["type"] == "text"]
    assert text["align"] == "left" and text["dx"] > 0 and text["baseline"] == "middle"
    assert spec["height"]["for"] == "offset" and spec["height"]["step"] >= text["fontSize"] + 4
    assert enc["color"]["legend"]["orient"] == "bottom"  # not beside the values


def test_validation_curve_leaves_out_the_rows_without_a_value(plots_json):
    (item,) = plots_json["data"]["val_accuracy"]
    assert item["content"]["transform"][0]["filter"] == \
        "datum['val_accuracy'] != null && datum['val_accuracy'] !== ''"


def _offline_script():
    return load_script("scripts/plots_offline.py")


def test_offline_template_inlines_the_libraries_instead_of_the_cdn(tmp_path):
    from dvc_render.html import render_html
    from dvc_render.vega import VegaRenderer

    page = _offline_script().page("window.vegaEmbed = function () {}; var s = '</script>';")
    renderer = VegaRenderer([{"step": 1, "loss": 2.0}], "loss", x="step", y="loss")
    out = Path(render_html([renderer], tmp_path / "index.html", html_template=page))
    html = out.read_text(encoding="utf-8")
    assert "cdn.jsdelivr" not in html and "<script src" not in html
    assert "window.vegaEmbed = function () {}" in html
    assert "'<\\/script>'" in html  # cannot end the inline script early
    assert "vegaEmbed('#loss', spec)" in html  # DVC's plot div, filled in


def test_offline_template_refuses_a_bundle_dvc_would_rewrite():
    with pytest.raises(ValueError, match="placeholder"):
        _offline_script().page("var x = '{plot_divs}';")


# The plots as the Vega engine draws them: vl-convert (Vega and Vega-Lite in a Rust build, no browser) renders
# `dvc plots show --json`'s specs, data inline, with the Vega-Lite version the offline page carries.

CURVES = ("train_loss", "val_accuracy", "learning_rate", "images_per_second")


@pytest.fixture(scope="module")
def vega_lite() -> str:
    return _offline_script().VEGA_LITE


@pytest.fixture(scope="module")
def drawn(plots_json, vega_lite) -> dict[str, str]:
    """plot id -> its SVG."""
    import vl_convert

    out = {}
    for pid, (item,) in plots_json["data"].items():
        assert item["type"] == "vega", pid
        out[pid] = vl_convert.vegalite_to_svg(item["content"], vl_version=vega_lite)
    return out


@pytest.mark.parametrize("pid", [pid for p in PLOTS for pid in p])
def test_drawn_text_neither_overlaps_nor_leaves_the_canvas(drawn, pid):
    """Axis labels, titles, legend entries and bar values: no two closer than GAP px, none cut off."""
    boxes = text_boxes(drawn[pid])
    assert len(boxes) > 10, pid
    crowded = [(p.text, q.text) for p, q in crowded_pairs(boxes)]
    assert not crowded, f"{pid}: texts overlap or touch: {crowded}"
    root = ET.fromstring(drawn[pid])
    w, h = float(root.get("width")), float(root.get("height"))
    outside = [b.text for b in boxes if b.x1 < 0 or b.y1 < 0 or b.x2 > w or b.y2 > h]
    assert not outside, f"{pid}: cut off at the edge: {outside}"


def _legend_colours(root: ET.Element) -> dict[str, str]:
    """Legend label -> its symbol's colour, a line's stroke or a circle's fill (Vega draws each entry as a
    group of symbol and label)."""
    entries = {}
    for g in root.iter(f"{SVG}g"):
        kids = {c.get("class"): c for c in g}
        symbol, label = kids.get("mark-symbol role-legend-symbol"), kids.get("mark-text role-legend-label")
        if symbol is not None and label is not None:
            path = symbol.find(f"{SVG}path")
            entries["".join(label.itertext())] = path.get("stroke") or path.get("fill")
    return entries


@pytest.mark.parametrize("pid", CURVES)
def test_drawn_legend_names_each_backbone_in_the_colour_of_its_line(drawn, pid):
    root = ET.fromstring(drawn[pid])
    legend = _legend_colours(root)
    colours = {bb: [c for label, c in legend.items() if bb in label] for bb in BACKBONES}
    assert all(len(c) == 1 for c in colours.values()), legend  # each backbone once
    assert len({c for (c,) in colours.values()}) == len(BACKBONES), legend
    lines = {p.get("stroke") for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("mark-line ")
             for p in g.iter(f"{SVG}path")}
    assert lines == {c for (c,) in colours.values()}, (lines, legend)


def test_overlap_check_catches_labels_drawn_over_each_other(vega_lite):
    """The check above can fail: long names under narrow bars, with Vega's label-overlap removal off, are drawn
    over each other; with it on (and a separation above GAP), Vega hides every other one and the check passes."""
    import vl_convert

    names = [f"benchmark number {i}" for i in range(8)]

    def svg(overlap: bool) -> str:
        axis = {"labelAngle": 0, "labelOverlap": overlap, "labelSeparation": GAP + 1}
        spec = {"data": {"values": [{"b": n, "v": i} for i, n in enumerate(names)]}, "mark": "bar",
                "width": 200, "encoding": {"x": {"field": "b", "type": "nominal", "axis": axis},
                                           "y": {"field": "v", "type": "quantitative"}}}
        return vl_convert.vegalite_to_svg(spec, vl_version=vega_lite)

    crowded = {(p.text, q.text) for p, q in crowded_pairs(text_boxes(svg(False)))}
    assert (names[0], names[1]) in crowded
    assert not crowded_pairs(text_boxes(svg(True)))


def test_png_screenshots_of_every_plot(plots_json, drawn, vega_lite, tmp_path):
    """A PNG of each plot at 2x for a person to look at (paths printed: pytest -s), the size of its SVG."""
    import vl_convert
    from PIL import Image

    for pid, (item,) in plots_json["data"].items():
        png = vl_convert.vegalite_to_png(item["content"], vl_version=vega_lite, scale=2)
        path = tmp_path / f"{pid}.png"
        path.write_bytes(png)
        print(f"{pid}: {path}")
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", pid
        root = ET.fromstring(drawn[pid])
        assert struct.unpack(">II", png[16:24]) == (2 * int(root.get("width")), 2 * int(root.get("height")))
        with Image.open(path) as im:  # decodes, and shows each backbone's colour (its lines, its bars)
            pixels = {"#{:02x}{:02x}{:02x}".format(*rgb) for _, rgb in im.convert("RGB").getcolors(1 << 22)}
        ours = {c for label, c in _legend_colours(root).items() if any(bb in label for bb in BACKBONES)}
        assert len(ours) >= len(BACKBONES) and ours <= pixels, (pid, ours - pixels)
