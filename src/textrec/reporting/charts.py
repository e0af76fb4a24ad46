"""Matplotlib figures rendered to PNG bytes (Agg backend, no display needed)."""

from __future__ import annotations

import io

import pandas as pd

from textrec.reporting.collect import is_model_column


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _figure(w: float, h: float):
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(w, h))


def _percent_label(v: float) -> str:
    """A bar's value: '–' when missing, two decimals below 1% (so 0.25% is not drawn as 0.3 or 0)."""
    return "–" if pd.isna(v) else "0" if v == 0 else f"{v:.2f}" if v < 1 else f"{v:.1f}"


def accuracy_bars(table: pd.DataFrame) -> bytes:
    """One group of bars per benchmark, one bar per backbone x precision, each with its value (%). The axis
    ends a little above the highest bar (at most 100%), so accuracies of a few percent stay readable; a
    missing value (no quantize result) has no bar and reads '–', never 0."""
    rows = table[~table["benchmark"].str.startswith("average")]
    cols = [c for c in table.columns if is_model_column(c) and table[c].notna().any()]
    fig, ax = _figure(max(6.0, 1.2 * len(rows)), 3.5)
    width = 0.8 / max(1, len(cols))
    top = 0.0
    for i, c in enumerate(cols):
        values = pd.to_numeric(rows[c], errors="coerce") * 100
        top = max(top, float(values.max(skipna=True)) if values.notna().any() else 0.0)
        xs = [k + i * width for k in range(len(rows))]
        bars = ax.bar(xs, values.fillna(0), width, label=c)
        ax.bar_label(bars, labels=[_percent_label(v) for v in values], fontsize=7, padding=1)
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(rows))], rows["benchmark"], rotation=20)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, min(100.0, max(1.0, top * 1.15)))  # room for the labels; all-zero bars: a 0-1% axis
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def training_curves(logs: dict[str, pd.DataFrame]) -> bytes:
    """Loss (left) and validation accuracy (right, where logged) against step, per backbone."""
    fig, ax = _figure(8.0, 3.5)
    ax2 = ax.twinx()
    for bb, df in logs.items():
        ax.plot(df["step"], df["loss"], label=f"{bb} loss", linewidth=1)
        if "val_accuracy" in df and df["val_accuracy"].notna().any():
            v = df.dropna(subset=["val_accuracy"])
            ax2.plot(v["step"], v["val_accuracy"] * 100, "--o", markersize=3, label=f"{bb} val acc")
    ax.set_xlabel("step")
    ax.set_ylabel("CTC loss")
    ax.set_yscale("log")
    ax2.set_ylabel("val accuracy (%)")
    ax2.set_ylim(0, 100)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    ax.grid(alpha=0.3)
    return _png(fig)
