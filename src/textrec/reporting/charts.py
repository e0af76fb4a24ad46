"""Matplotlib figures as SVG text (Agg backend, no display needed), inlined in the report.

SVG keeps the charts sharp at any zoom, and matplotlib writes its text as paths (svg.fonttype "path"), so
the page shows exactly the layout matplotlib measured: tests/reporting/test_charts.py checks that no two
texts overlap with matplotlib's own text extents, and that holds in every browser.
"""

from __future__ import annotations

import io

import pandas as pd

from textrec.reporting.collect import is_model_column

BAR_INCHES = 0.17  # one bar's row: taller than its 8 pt value label (0.11 in), so labels never touch
LABEL_PT = 8


def svg(fig) -> str:
    """The figure as an ``<svg>`` element (no XML prolog: it goes inline into the page)."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with plt.rc_context({"svg.fonttype": "path", "svg.hashsalt": "textrec"}):  # hashsalt: stable ids
        fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _figure(w: float, h: float):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def percent_label(v: float) -> str:
    """A bar's value in %: '–' when missing, two decimals below 1% (so 0.25% is not drawn as 0.3 or 0)."""
    return "–" if pd.isna(v) else "0" if v == 0 else f"{v:.2f}" if v < 1 else f"{v:.1f}"


def accuracy_figure(table: pd.DataFrame):
    """Horizontal bars: one group per benchmark (top to bottom in the table's order), one bar per backbone x
    precision, each with its value (%) to its right. A bar has its own row, so 5 bars x 7 benchmarks keep
    every label apart; the axis ends a little beyond the highest bar (at most 100%), so accuracies of a few
    percent stay readable; a missing value (no quantize result) has no bar and reads '–', never 0."""
    rows = table[~table["benchmark"].str.startswith("average")]
    cols = [c for c in table.columns if is_model_column(c) and table[c].notna().any()]
    n = max(1, len(cols))
    fig, ax = _figure(7.0, 0.8 + BAR_INCHES * n * len(rows) / 0.8)  # bars fill 0.8 of each group's unit
    height = 0.8 / n
    top = 0.0
    for i, c in enumerate(cols):
        values = pd.to_numeric(rows[c], errors="coerce") * 100
        top = max(top, float(values.max(skipna=True)) if values.notna().any() else 0.0)
        ys = [k - 0.4 + (i + 0.5) * height for k in range(len(rows))]
        bars = ax.barh(ys, values.fillna(0), height, label=c)
        ax.bar_label(bars, labels=[percent_label(v) for v in values], fontsize=LABEL_PT, padding=2)
    ax.set_yticks(range(len(rows)), rows["benchmark"])
    ax.invert_yaxis()  # the table's first benchmark on top
    ax.set_xlabel("accuracy (%)")
    ax.set_xlim(0, min(100.0, max(1.0, top)) * 1.15)  # room for the labels; all-zero bars: a 0-1% axis
    ax.legend(fontsize=LABEL_PT, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig


def accuracy_bars(table: pd.DataFrame) -> str:
    return svg(accuracy_figure(table))


def curves_figure(logs: dict[str, pd.DataFrame]):
    """Loss (left axis, solid) and validation accuracy in % (right axis, dashed, where logged) against step,
    one colour per backbone; the legend sits right of the chart, clear of both axes' labels."""
    fig, ax = _figure(8.0, 3.5)
    ax2 = ax.twinx()
    for i, (bb, df) in enumerate(logs.items()):
        colour = f"C{i}"
        ax.plot(df["step"], df["loss"], color=colour, label=f"{bb} loss", linewidth=1)
        if "val_accuracy" in df and df["val_accuracy"].notna().any():
            v = df.dropna(subset=["val_accuracy"])
            ax2.plot(v["step"], v["val_accuracy"] * 100, "--o", color=colour, markersize=3,
                     label=f"{bb} val accuracy")
    ax.set_xlabel("step")
    ax.set_ylabel("CTC loss")
    ax.set_yscale("log")
    ax2.set_ylabel("val accuracy (%)")
    ax2.set_ylim(0, 100)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=LABEL_PT, loc="upper left", bbox_to_anchor=(1.1, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return fig


def training_curves(logs: dict[str, pd.DataFrame]) -> str:
    return svg(curves_figure(logs))
