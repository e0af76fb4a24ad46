"""The HTML report of one `textrec monitor` check: the verdict, every check, and each quantity's distribution
in the reference and in the window (inline SVG: one self-contained file, no plotting library)."""

from __future__ import annotations

import html
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from textrec.monitoring.monitor import Result

CSS = """body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.bad{color:#b00}.ok{color:#070}
.charts{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0}figcaption{font-size:13px}"""
COLORS = ("#8a8a8a", "#e07b00")  # reference, window
W, H = 420, 150


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def bars_svg(title: str, labels: list[str], ref: np.ndarray, win: np.ndarray) -> str:
    """Side-by-side bars of two share vectors [k] (each sums to 1)."""
    k = len(labels)
    top = max(float(ref.max(initial=0)), float(win.max(initial=0)), 1e-9)
    slot = (W - 40) / max(k, 1)
    parts = [f'<svg width="{W}" height="{H + 30}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(k):
        for j, (share, color) in enumerate(((ref[i], COLORS[0]), (win[i], COLORS[1]))):
            h = H * float(share) / top
            x = 30 + i * slot + j * slot / 2
            parts.append(f'<rect x="{x:.1f}" y="{H - h:.1f}" width="{slot / 2 - 1:.1f}" height="{h:.1f}" '
                         f'fill="{color}"><title>{html.escape(labels[i])}: {100 * float(share):.1f}%</title></rect>')
        if k <= 30 or i % max(1, k // 15) == 0:
            parts.append(f'<text x="{30 + i * slot:.1f}" y="{H + 14}" font-size="9">{html.escape(labels[i])}</text>')
    parts.append(f'<text x="30" y="{H + 28}" font-size="10">{100 * top:.0f}% at the top; grey: reference, '
                 'orange: window</text></svg>')
    return f"<figure>{''.join(parts)}<figcaption>{html.escape(title)}</figcaption></figure>"


def _shares(counts: Counter, keys: list) -> np.ndarray:
    total = sum(counts.values()) or 1
    return np.array([counts[k] / total for k in keys])


def _histogram(title: str, ref: np.ndarray, win: np.ndarray, edges: np.ndarray, fmt: str) -> str:
    ref, win = ref[np.isfinite(ref)], win[np.isfinite(win)]
    r, _ = np.histogram(ref, edges)
    w, _ = np.histogram(win, edges)
    labels = [format(e, fmt) for e in edges[:-1]]
    return bars_svg(title, labels, r / max(r.sum(), 1), w / max(w.sum(), 1))


def charts(result: Result) -> list[str]:
    ref, win = result.reference.observations, result.window.observations
    out = [_histogram("confidence", ref.confidence, win.confidence, np.linspace(0, 1, 21), ".2f")]
    lengths = sorted({len(t) for t in ref.texts} | {len(t) for t in win.texts})
    out.append(bars_svg("text length", [str(n) for n in lengths], _shares(Counter(map(len, ref.texts)), lengths),
                        _shares(Counter(map(len, win.texts)), lengths)))
    rc, wc = Counter("".join(ref.texts)), Counter("".join(win.texts))
    chars = sorted(set(rc) | set(wc))
    out.append(bars_svg("characters", chars, _shares(rc, chars), _shares(wc, chars)))
    for name, a, b in (("image height (px)", ref.height, win.height), ("image width (px)", ref.width, win.width)):
        both = np.concatenate([a[np.isfinite(a)], b[np.isfinite(b)]])
        if both.size:
            hi = float(np.quantile(both, 0.99)) + 1  # the longest tail would flatten every bar
            out.append(_histogram(name, np.minimum(a, hi - 0.5), np.minimum(b, hi - 0.5),
                                  np.linspace(0, hi, 21), ".0f"))
    return out


def render(result: Result) -> str:
    w, ref = result.window, result.reference
    verdict = (f'<p class="bad"><b>{html.escape(result.reason)}</b></p>' if result.alarm
               else f'<p class="ok"><b>{html.escape(result.reason)}</b></p>')
    rows = "".join(
        f'<tr class="{"bad" if c.alarm else ""}"><td>{c.name}</td><td>{c.test}</td><td>{c.effect:.3f}</td>'
        f"<td>{c.limit:g}</td><td>{c.p_value:.2g}</td><td>{c.reference:.3f}</td><td>{c.window:.3f}</td>"
        f"<td>{'ALARM' if c.alarm else 'ok'}</td></tr>" for c in result.checks)
    failed = ", ".join(f"{k}: {v}" for k, v in w.failures.items()) or "none"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>textrec monitor: {html.escape(w.model)}
{html.escape(w.version)}</title><style>{CSS}</style></head><body>
<h1>Prediction monitoring: {html.escape(w.model)} version {html.escape(w.version)}</h1>{verdict}
<p>Window: {len(w.observations)} predictions (log rows {w.first_id}-{w.last_id}, {_when(w.first_time)} to
{_when(w.last_time)}). Reference: {len(ref.observations)} predictions on {html.escape(ref.source)}
({html.escape(ref.created)}). Predictions that could not be logged, by reason: {html.escape(failed)}.</p>
<table><tr><th>check</th><th>test</th><th>effect</th><th>limit</th><th>p-value</th><th>reference</th>
<th>window</th><th></th></tr>{rows}</table>
<p>Effect: Kolmogorov-Smirnov distance (confidence, image size), total variation distance (length,
characters), rise of the low-confidence rate. Reference and window columns: means, rates, or the number of
distinct characters. An alarm needs both p below the Bonferroni-corrected level and the effect at its limit.</p>
<div class="charts">{''.join(charts(result))}</div>
<p>Written {datetime.now(UTC).isoformat(timespec='seconds')}.</p></body></html>"""


def write_report(result: Result, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result), encoding="utf-8")
    return path
