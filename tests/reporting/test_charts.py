"""The report's charts: no two texts overlap, measured with matplotlib's own text extents (the SVG draws text as
paths, so the page shows exactly these boxes), on the demo's worst case: 5 bars x 7 benchmarks at ~90%."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from textrec.reporting import charts

BENCHES = ("synth_IIIT5K", "synth_SVT", "synth_IC03", "synth_IC13", "synth_IC15", "synth_SVTP", "synth_CUTE80")


def _demo_table() -> pd.DataFrame:
    """The demo's accuracy table: MobileNetV3 fp32 / int8 / start near 92%, ResNet34_vd's pipeline check at 0."""
    rng = np.random.default_rng(0)
    rows = [{"benchmark": b, "count": 200, "mobilenet_v3 fp32": 0.92 + rng.uniform(-0.01, 0.01),
             "mobilenet_v3 int8": 0.92 + rng.uniform(-0.01, 0.01), "mobilenet_v3 start": 0.929,
             "resnet34_vd fp32": 0.0, "resnet34_vd int8": 0.0} for b in BENCHES]
    table = pd.DataFrame(rows)
    mean = {"benchmark": "average (mean)", "count": 1400, **table.drop(columns=["benchmark", "count"]).mean()}
    return pd.concat([table, pd.DataFrame([mean])], ignore_index=True)


def _texts(fig) -> list[tuple[str, object]]:
    """Every text the figure draws, with its extent in pixels: tick labels inside the view limits (major and
    minor), axis labels and offsets, bar labels, titles, legend entries."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    texts: list[Text] = []
    for ax in fig.axes:
        for axis, lim in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
            lo, hi = sorted(lim)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    texts += [tick.label1, tick.label2]
            texts += [axis.label, axis.get_offset_text()]
        texts += [*ax.texts, ax.title]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts
            if t.get_visible() and t.get_text().strip()]


def _overlaps(fig) -> list[tuple[str, str]]:
    out = []
    for (a, box_a), (b, box_b) in itertools.combinations(_texts(fig), 2):
        w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if w > 0.5 and h > 0.5:  # more than half a pixel each way: touching edges are not an overlap
            out.append((a, b))
    return out


def test_accuracy_bar_values_do_not_overlap_with_5_bars_and_7_benchmarks() -> None:
    fig = charts.accuracy_figure(_demo_table())
    texts = _texts(fig)
    assert sum(1 for t, _ in texts if t[:2] in ("91", "92", "0")) >= 35  # every bar has its value
    assert _overlaps(fig) == []


def test_training_curves_texts_do_not_overlap() -> None:
    steps = np.arange(1, 1001)
    logs = {bb: pd.DataFrame({"step": steps, "loss": 20 / np.sqrt(steps) + k,
                              "val_accuracy": [0.9 if s % 250 == 0 else None for s in steps]})
            for k, bb in enumerate(("mobilenet_v3", "resnet34_vd"))}
    fig = charts.curves_figure(logs)
    assert len(fig.axes[0].get_legend().get_texts()) == 4  # loss and val accuracy per backbone
    assert _overlaps(fig) == []


def test_overlap_check_sees_an_overlap() -> None:
    """The check itself: two labels drawn at one spot are caught."""
    fig = charts.accuracy_figure(_demo_table())
    ax = fig.axes[0]
    ax.text(50, 0, "92.9")
    ax.text(50, 0, "93.1")
    assert ("92.9", "93.1") in _overlaps(fig)


@pytest.mark.parametrize("draw", [lambda: charts.accuracy_bars(_demo_table()),
                                  lambda: charts.training_curves({"mobilenet_v3": pd.DataFrame(
                                      {"step": [1, 2], "loss": [20.0, 15.0], "val_accuracy": [None, 0.1]})})])
def test_charts_are_inline_svg_with_text_as_paths(draw) -> None:
    """Vector output (sharp at any zoom), starting at the <svg> element (no XML prolog inside the page), and
    no <text> element: the browser draws matplotlib's glyph outlines, not a font of its own choosing."""
    out = draw()
    assert out.startswith("<svg") and out.rstrip().endswith("</svg>")
    assert "<text" not in out and "<path" in out
