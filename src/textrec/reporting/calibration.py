"""The report's calibration part: per benchmark the ECE before and after the model's calibration with the
auto-accept threshold and its coverage (the evaluate stage's ``calibration`` block), and reliability diagrams
as self-contained SVG (no plotting library: the report inlines them, the README can link them)."""

from __future__ import annotations

import html

import pandas as pd

from textrec.reporting.collect import BackboneResults

SIZE, PAD = 220, 34  # px: the square plot area and the margin for the axes' labels
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2")
BEFORE = "#999999"

NOTE = ("Expected calibration error (ECE): the words are put in equal-width bins of confidence; each bin's "
        "|accuracy - mean confidence| is weighted by its share of words (0 = a confidence of 0.9 is right 9 "
        "times in 10). 'before' is the model's raw score, 'after' the calibrated confidence (calibrate stage, "
        "fitted on the validation set). The auto-accept threshold is the lowest calibrated confidence above "
        "which the benchmark's words are right at the target precision; coverage is the share of words above "
        "it (– : no threshold reaches the target).")


def calibration_table(results: list[BackboneResults], benchmarks: tuple[str, ...]) -> pd.DataFrame | None:
    """One row per backbone and benchmark (None without any)."""
    rows = []
    for r in results:
        for bench in benchmarks:
            c = r.eval[bench].calibration
            rows.append({"backbone": r.backbone, "benchmark": bench, "method": c.method or "none",
                         "ECE before": round(c.ece_before, 4),
                         "ECE after": None if c.ece_after is None else round(c.ece_after, 4),
                         "target precision": c.target_precision,
                         "threshold": None if c.threshold is None else round(c.threshold, 4),
                         "coverage": c.coverage})
    return pd.DataFrame(rows) if rows else None


def _xy(conf: float, acc: float) -> tuple[float, float]:
    return PAD + conf * SIZE, PAD + (1 - acc) * SIZE


def _curve(bins: list[dict], colour: str, dashed: bool = False) -> str:
    """A line through the bins' (mean confidence, accuracy), a dot per bin with area by its word count."""
    if not bins:
        return ""
    total = sum(b["count"] for b in bins)
    pts = [_xy(b["confidence"], b["accuracy"]) for b in bins]
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    out = [f'<polyline fill="none" stroke="{colour}" stroke-width="1.5"{dash} points="'
           + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>']
    for (x, y), b in zip(pts, bins, strict=True):
        r = 2 + 6 * (b["count"] / total) ** 0.5
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{colour}" fill-opacity="0.6">'
                   f'<title>{b["count"]} words, confidence {b["confidence"]:.3f}, accuracy {b["accuracy"]:.3f}'
                   "</title></circle>")
    return "".join(out)


def reliability_svg(title: str, curves: dict[str, list[dict]], dashed: tuple[str, ...] = ()) -> str:
    """A reliability diagram: accuracy against confidence per curve (``textrec.calibration.reliability``
    bins), with the diagonal a calibrated model lies on. ``dashed``: curves drawn dashed (the raw score)."""
    w = h = SIZE + 2 * PAD
    legend_h = 14 * len(curves)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + legend_h}" '
             f'viewBox="0 0 {w} {h + legend_h}" font-family="sans-serif" font-size="10">',
             f'<text x="{w / 2}" y="14" text-anchor="middle" font-size="11">{html.escape(title)}</text>',
             f'<rect x="{PAD}" y="{PAD}" width="{SIZE}" height="{SIZE}" fill="none" stroke="#ccc"/>',
             f'<line x1="{PAD}" y1="{PAD + SIZE}" x2="{PAD + SIZE}" y2="{PAD}" stroke="#bbb" stroke-dasharray="2 2"/>']
    for t in (0, 0.5, 1):
        x, y = _xy(t, t)
        parts += [f'<text x="{x}" y="{PAD + SIZE + 12}" text-anchor="middle">{t:g}</text>',
                  f'<text x="{PAD - 4}" y="{y + 3}" text-anchor="end">{t:g}</text>']
    parts += [f'<text x="{PAD + SIZE / 2}" y="{PAD + SIZE + 26}" text-anchor="middle">confidence</text>',
              f'<text x="10" y="{PAD + SIZE / 2}" text-anchor="middle" '
              f'transform="rotate(-90 10 {PAD + SIZE / 2})">accuracy</text>']
    for i, (name, bins) in enumerate(curves.items()):
        colour = BEFORE if name in dashed else COLOURS[i % len(COLOURS)]
        parts.append(_curve(bins, colour, name in dashed))
        y = h + 10 + 14 * i
        parts.append(f'<rect x="{PAD}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{PAD + 14}" y="{y}">{html.escape(name)}</text>')
    return "".join(parts) + "</svg>"


def benchmark_diagrams(r: BackboneResults, benchmarks: tuple[str, ...]) -> list[str]:
    """One diagram per benchmark of ``r``: raw score (dashed) and calibrated (when the model has a calibration)."""
    out = []
    for bench in benchmarks:
        c = r.eval[bench].calibration
        curves = {f"raw (ECE {c.ece_before:.3f})": c.reliability_before}
        if c.reliability_after is not None and c.ece_after is not None:
            curves[f"calibrated (ECE {c.ece_after:.3f})"] = c.reliability_after
        out.append(reliability_svg(f"{r.backbone} · {bench}", curves, dashed=(next(iter(curves)),)))
    return out
