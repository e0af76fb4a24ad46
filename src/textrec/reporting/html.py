"""Assemble report.html (self-contained: figures and gallery images inline) and summary.md."""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from textrec.artifacts import PrepareSummary, WorstExample
from textrec.data.lmdb_io import iter_records, key_index
from textrec.reporting import charts
from textrec.reporting.calibration import NOTE as CALIBRATION_NOTE
from textrec.reporting.calibration import benchmark_diagrams, calibration_table
from textrec.reporting.collect import (
    BackboneResults,
    accuracy_table,
    empty_predictions_table,
    is_model_column,
    mean_change,
    published_comparison,
    training_table,
)
from textrec.reporting.verdict import verdict, verdicts_html, verdicts_md

CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.gallery{display:flex;flex-wrap:wrap;gap:8px}.card{border:1px solid #ddd;padding:4px;font-size:12px;width:210px}
.card img{max-width:200px;max-height:64px;display:block;margin-bottom:4px}.bad{color:#b00}.ok{color:#070}
.chart svg{max-width:100%;height:auto}summary{cursor:pointer;margin:.5em 0}"""


def _img_tag(data: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(data).decode()}">'


def _fmt(v: object) -> str:
    return "–" if v is None or (isinstance(v, float) and pd.isna(v)) else (
        f"{100 * v:.2f}%" if isinstance(v, float) else str(v))


def _pct(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """``df`` with ``cols`` (fractions) written in %, the report's one unit for accuracies and precisions."""
    return df.assign(**{c: df[c].map(_fmt) for c in cols})


def _cell(v: object, pct: bool) -> str:
    """A table cell: a fraction in % where ``pct``, a missing value as '–' (never 'None' or 'nan')."""
    missing = v is None or (isinstance(v, float) and pd.isna(v))
    return _fmt(v) if pct or missing else html.escape(str(v))


def _table_html(df: pd.DataFrame, pct_cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row[c], c in pct_cols)}</td>" for c in df.columns) + "</tr>"
                   for _, row in df.iterrows())
    return f"<table><tr>{head}</tr>{body}</table>"


def _gallery(bench_dir: Path, worst: list[WorstExample]) -> str:
    indices = [key_index(w.key) for w in worst]
    images = {rec.index: rec.image for rec in iter_records(bench_dir, indices)}
    cards = []
    for w, idx in zip(worst, indices, strict=True):
        data = images[idx]
        img = _img_tag(data, w.label) if data is not None else "(image missing)"
        cls = "ok" if w.correct else "bad"
        cards.append(f'<div class="card">{img}truth: <b>{html.escape(w.label)}</b><br>'
                     f'pred: <b class="{cls}">{html.escape(w.prediction) or "∅"}</b><br>'
                     f'conf: {w.confidence:.3f}</div>')
    return '<div class="gallery">' + "".join(cards) + "</div>"


def _galleries(results: list[BackboneResults], benchmarks: tuple[str, ...], bench_root: Path) -> list[str]:
    """Per backbone and benchmark the gallery; a backbone whose every example is an empty prediction gets one
    closed <details> line instead of rows of blank-reading cards (its images are still there, one click away)."""
    parts = []
    for r in results:
        shown = {b: r.eval[b].worst for b in benchmarks if r.eval[b].worst}
        blocks = [f"<h3>{html.escape(r.backbone)} · {html.escape(b)}</h3>" + _gallery(bench_root / b, worst)
                  for b, worst in shown.items()]
        n = sum(len(w) for w in shown.values())
        if n and all(not w.prediction for worst in shown.values() for w in worst):
            blocks = [f"<details><summary>{html.escape(r.backbone)}: all {n} examples are empty predictions (∅): "
                      f"it reads nothing yet (see the verdict). Show them</summary>{''.join(blocks)}</details>"]
        parts += blocks
    return parts


LATENCY_NOTE = ("ONNX Runtime on this machine's CPU as the quantize stage timed it (median of interleaved rounds, "
                "quantize.timing_threads threads: one thread keeps the INT8/fp32 ratio steady on shared cores). "
                "bench/inference.py compares with Paddle Inference at 2 threads.")


PUBLISHED_NOTE = ("PaddleOCR's CRNN doc publishes, for its release checkpoints trained on MJSynth + SynthText, the "
                  "plain mean accuracy over these seven benchmarks. With init: paddleocr and 0 training steps (the "
                  "<code>reproduce</code> profile) our weights are exactly those checkpoints, so the difference "
                  "measures our evaluation against theirs. PaddleOCR does not say which of DTRB's IC03/IC13/IC15 "
                  "variants it averaged; ours are the ones data.real.convert names (IC03_867, IC13_1015 and "
                  "IC15_2077 in the shipped profiles).")


EMPTY_NOTE = ("A prediction is empty (∅ in the gallery) when the model emits the CTC blank at every frame: "
              "decoding then leaves no character. An untrained model, or one still on the CTC loss plateau, "
              "reads nearly every image this way, so accuracy 0 with mostly empty predictions means the model "
              "has not started reading yet (train longer), not that it reads wrong. A trained model's few empty "
              "predictions are usually crops with nothing legible at the input size.")


def _latency_rows(results: list[BackboneResults]) -> pd.DataFrame | None:
    rows = []
    for r in results:
        if r.quantize is None:
            continue
        threads = r.quantize.config.get("timing_threads")
        for t in r.quantize.speed:
            rows.append({"backbone": r.backbone, "engine": t.engine, "threads": threads,
                         "batch_size": t.batch_size, "ms_per_image": round(t.ms_per_image, 3)})
    return pd.DataFrame(rows) if rows else None


def _points(before: float, after: float) -> str:
    return f"{round(100 * (after - before), 1) + 0.0:+.1f} points"  # + 0.0: no -0.0


def _own_change(backbone: str, table: pd.DataFrame, benchmarks: tuple[str, ...], own: tuple[str, ...]) -> str:
    """With your own test sets the headline is their change; the synthetic suite's is what it forgot."""
    before, after = mean_change(table, backbone, own)
    out = (f"On your own test sets ({', '.join(own)}): mean {_fmt(before)} before, {_fmt(after)} after training "
           f"({_points(before, after)}).")
    synthetic = tuple(b for b in benchmarks if b not in own)
    if synthetic:
        before, after = mean_change(table, backbone, synthetic)
        out += (f" Forgetting, on the synthetic suite ({len(synthetic)} benchmark{'s' * (len(synthetic) > 1)}): "
                f"mean {_fmt(before)} before, {_fmt(after)} after ({_points(before, after)}).")
    return out


def _start_note(results: list[BackboneResults], table: pd.DataFrame, benchmarks: tuple[str, ...],
                own: tuple[str, ...]) -> str | None:
    """Per backbone trained from an init checkpoint: where it started and the mean change, over your own test
    sets (then the synthetic suite's, as forgetting) when there are some, else over every benchmark."""
    notes = []
    for r in results:
        start = next((e.start for e in r.eval.values() if e.start), None)
        if start is None:
            continue
        if start.accuracy is None:
            notes.append(f"{r.backbone} was trained from {start.source}, which could not be measured: "
                         f"{start.reason}.")
            continue
        where = (f"{r.backbone} was trained from {start.source} (sha256 {str(start.sha256)[:12]}); "
                 f"'{r.backbone} start' is that checkpoint on the same images")
        if own:
            notes.append(f"{where}. {_own_change(r.backbone, table, benchmarks, own)}")
            continue
        before, after = mean_change(table, r.backbone, benchmarks)
        notes.append(f"{where}: mean {_fmt(before)} before, {_fmt(after)} after training "
                     f"({_points(before, after)}).")
    return " ".join(notes) or None


def build_report(results: list[BackboneResults], benchmarks: tuple[str, ...], bench_root: Path,
                 out_html: Path, out_md: Path, profile: str, own: tuple[str, ...] = (),
                 prepare: PrepareSummary | None = None) -> pd.DataFrame:
    """``own``: the benchmarks that are your own test sets (``Params.own_benchmarks``): the headline is theirs.
    ``prepare``: reports/prepare.json, what the models were trained on (the verdicts say it)."""
    table = accuracy_table(results, benchmarks)
    verdicts = [verdict(r, prepare) for r in results]
    pct_cols = [c for c in table.columns if is_model_column(c)]
    parts = [f"<h1>textrec report</h1><p>profile <b>{html.escape(profile)}</b>, generated "
             f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC}. Accuracy under the DTRB protocol "
             "(case-insensitive, alphanumerics only); every accuracy in %.</p>",
             "<h2>Verdict</h2>", verdicts_html(verdicts),
             "<h2>Accuracy per benchmark</h2>", _table_html(table, pct_cols),
             f'<div class="chart">{charts.accuracy_bars(table)}</div>']
    start = _start_note(results, table, benchmarks, own)
    if start is not None:  # the headline: what training changed
        parts.insert(1, f"<p><b>{html.escape(start)}</b></p>")
    published = published_comparison(results, table, benchmarks)
    pub_cols = ["ours fp32", "ours int8", "PaddleOCR published", "fp32 - published"]
    if published is not None:
        parts += ["<h2>Against PaddleOCR's published accuracy</h2>", f"<p>{PUBLISHED_NOTE}</p>",
                  _table_html(published, pub_cols)]
    trained = training_table(results)
    if trained is not None:
        parts += ["<h2>How training ended</h2>", _table_html(trained, ["best val accuracy"])]
    empty = empty_predictions_table(results, benchmarks)
    if empty is not None:
        parts += ["<h2>Empty predictions</h2>", f"<p>{EMPTY_NOTE}</p>", _table_html(empty, [])]
    calibration = calibration_table(results, benchmarks)
    if calibration is not None:
        parts += ["<h2>Calibrated confidence</h2>", f"<p>{CALIBRATION_NOTE}</p>",
                  _table_html(calibration, ["target precision", "coverage"]), '<div class="gallery">',
                  *(svg for r in results for svg in benchmark_diagrams(r, benchmarks)), "</div>"]
    logs = {r.backbone: r.train_log for r in results if r.train_log is not None and len(r.train_log)}
    if logs:
        parts += ["<h2>Training curves</h2>", f'<div class="chart">{charts.training_curves(logs)}</div>']
    lat = _latency_rows(results)
    if lat is not None:
        parts += ["<h2>Latency (CPU)</h2>", f"<p>{LATENCY_NOTE}</p>", _table_html(lat, [])]
    parts.append("<h2>Failure gallery</h2><p>Per benchmark, the most confident mistakes first; ∅ is an empty "
                 "prediction.</p>")
    parts += _galleries(results, benchmarks, bench_root)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>textrec report</title>"
                        f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>", encoding="utf-8")
    lines = [f"# textrec summary ({profile})", ""] + ([start, ""] if start is not None else [])
    lines += ["## Verdict", "", *verdicts_md(verdicts), "", "## Accuracy per benchmark", "",
              _pct(table, pct_cols).to_markdown(index=False), ""]
    if published is not None:
        pub = _pct(published, pub_cols)
        lines += ["## Against PaddleOCR's published accuracy", "", PUBLISHED_NOTE.replace("<code>", "`").replace(
            "</code>", "`"), "", pub.to_markdown(index=False), ""]
    if trained is not None:
        lines += ["## How training ended", "", _pct(trained, ["best val accuracy"]).to_markdown(index=False), ""]
    if empty is not None:
        lines += ["## Empty predictions", "", EMPTY_NOTE, "", empty.to_markdown(index=False), ""]
    if calibration is not None:
        cal = _pct(calibration, ["target precision", "coverage"])
        lines += ["## Calibrated confidence", "", CALIBRATION_NOTE, "", cal.to_markdown(index=False), ""]
    if lat is not None:
        lines += ["## Latency", "", LATENCY_NOTE, "", lat.to_markdown(index=False, floatfmt=".2f"), ""]
    out_md.write_text("\n".join(lines), encoding="utf-8")
    return table
