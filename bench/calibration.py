"""Calibrated confidence on real photos: does a calibration fitted on synthetic validation words transfer, and
how well does one fitted on the user's own labelled crops do?

1. Synthetic fit (what ships with the model): the model's validation split is rendered again (the bundle's
   card names its renderer settings; seed, split and index fix each image) and every method of
   ``textrec.calibration`` is fitted on it; ``fit_best`` picks one by cross-validated ECE, as the calibrate
   stage does. No real image is used. Each method is then measured on all of real-dev (held back).
2. Own-data fit (``textrec calibrate --data``): each real-dev set is split in random halves; a calibration
   is fitted on the first half of the set and measured on its second half (each set a deployment with its
   own labelled crops); then the halves swap, so every word also gets a confidence from a fit that never saw
   it ("cross-fit", all words).

Per set: expected calibration error (15 equal-width bins) before and after, and the auto-accept threshold at
--target-precision with the share of words above it (coverage), on the calibrated confidence. For the
synthetic fit also the threshold chosen on the synthetic words, applied to the real ones: the precision and
coverage it really gets. Real images are only read from --data, never written.

    .venv/bin/python bench/calibration.py        # the bundled model -> reports/bench/calibration.json
    # (+ calibration_<set>.svg: reliability diagrams of the raw score and both fits)
    # {"machine", "model", "synthetic_validation": {...}, "sets": {"IIIT5K": {"ece_before", "synthetic_fit":
    #  {method: {...}}, "own_data_fit": {...}}, ...}, "done_when": {...}}
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder

DEFAULT_DATA = REPO.parent / "shared" / "data" / "real-dev"
SETS = {"IIIT5k_train_2000": "IIIT5K", "IC15_train_4468": "IC15"}  # folder -> name in the JSON
DONE_WHEN_ECE = 0.03  # issue 22: ECE at most this on held-back real-dev IIIT5K and IC15


def outputs_of(engine, lmdb: Path, charset, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities [N, T, C], correct [N]) of every word of an LMDB, scored as the evaluate stage scores."""
    from textrec.evaluation.evaluate import evaluate_lmdb

    outputs: list[np.ndarray] = []
    res = evaluate_lmdb(engine, lmdb, charset, lmdb.name, batch_size, outputs=outputs)
    return np.concatenate(outputs), np.array([s.correct for s in res.samples])


def render_validation(synth: dict, n: int, dst: Path, processes: int) -> dict:
    """The validation split of the renderer settings ``synth`` (a model card's data.synth), ``n`` images."""
    from textrec.config import SynthConfig, build
    from textrec.data.synth.generate import write_lmdb
    from textrec.data.synth.profiles import TRAIN
    from textrec.data.synth.suite import make_context

    cfg = build(SynthConfig, synth, "synth")
    st = write_lmdb(dst, "val", make_context(cfg), TRAIN, cfg.seed, n, processes)
    return {"seed": cfg.seed, "split": "val", "profile": TRAIN.name, "count": st.count,
            "card_val_size": cfg.val_size, "seconds": round(st.seconds, 1)}


def measure(cal, probs: np.ndarray, correct: np.ndarray, bins: int, target: float) -> dict:
    """ECE after ``cal`` and the auto-accept threshold (on the calibrated confidence) with its coverage."""
    from textrec.calibration import auto_accept_threshold, expected_calibration_error

    conf = cal.confidences(probs)
    threshold, coverage = auto_accept_threshold(conf, correct, target)
    return {"ece_after": expected_calibration_error(conf, correct, bins), "mean_confidence": float(conf.mean()),
            "threshold": threshold, "coverage": coverage}


def transfer(cal, val: tuple[np.ndarray, np.ndarray], probs: np.ndarray, correct: np.ndarray,
             target: float) -> dict:
    """The threshold chosen on the validation words, applied to these: the precision and coverage it gets."""
    from textrec.calibration import auto_accept_threshold

    t, _ = auto_accept_threshold(cal.confidences(val[0]), val[1], target)
    if t is None:
        return {"threshold": None, "precision": None, "coverage": 0.0}
    accepted = cal.confidences(probs) >= t
    return {"threshold": t, "precision": float(correct[accepted].mean()) if accepted.any() else None,
            "coverage": float(accepted.mean())}


def halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2:])


def own_data_fit(real: dict[str, tuple[np.ndarray, np.ndarray]], args: argparse.Namespace) -> dict[str, dict]:
    """Per set, as a deployment calibrates on its own labelled crops (``textrec calibrate --data``): fit on one
    random half (the method chosen by cross-validated ECE), measure on the other; then swap, so that every word
    is also measured by the fit that did not see it (cross-fit). Each set is its own domain: at the same raw
    score the bundle reads IIIT5K's words right more often than IC15's, so one map fitted on both together
    (or on synthetic words) leaves one of them off."""
    from textrec.calibration import METHODS, expected_calibration_error, fit, fit_best, raw_confidences

    out: dict[str, dict] = {}
    for name, (p, c) in real.items():
        split = halves(len(c), args.seed)
        out[name] = {"split_seed": args.seed}
        crossfit: dict[str, np.ndarray] = {}
        for part, (fit_i, test_i) in (("first", (0, 1)), ("second", (1, 0))):
            train, idx = split[fit_i], split[test_i]
            fits = {m: fit(m, p[train], c[train], args.bins) for m in METHODS}
            best = fit_best(p[train], c[train], bins=args.bins, folds=args.folds)
            for m, cal in [*fits.items(), ("chosen", best)]:
                crossfit.setdefault(m, np.empty(len(c)))[idx] = cal.confidences(p[idx])
            if part == "first":  # the single split the issue asks for: fit on one half, ECE on the other
                out[name]["fit_on_first_half"] = {
                    "fit_count": len(train), "test_count": len(idx), "chosen": best.method,
                    "ece_before": expected_calibration_error(raw_confidences(p[idx]), c[idx], args.bins),
                    "methods": {m: measure(cal, p[idx], c[idx], args.bins, args.target_precision)
                                for m, cal in [*fits.items(), ("chosen", best)]}}
        out[name]["cross_fit"] = {m: {"ece_after": expected_calibration_error(conf, c, args.bins)}
                                  for m, conf in crossfit.items()}
        out[name]["cross_fit_confidences"] = crossfit["chosen"]  # for the diagram; not in the JSON
    return out


def write_diagrams(real: dict[str, tuple[np.ndarray, np.ndarray]], shipped, own: dict[str, dict], bins: int,
                   out: Path) -> dict[str, dict]:
    """Per set a reliability diagram (``<out stem>_<set>.svg``): the raw score, the shipped synthetic fit and
    the own-data cross-fit; returns the diagrams' bins for the JSON."""
    from textrec.calibration import raw_confidences, reliability
    from textrec.reporting.calibration import reliability_svg

    rows = {}
    for name, (p, c) in real.items():
        curves = {"raw": reliability(raw_confidences(p), c, bins),
                  "synthetic_fit": reliability(shipped.confidences(p), c, bins),
                  "own_data_fit": reliability(own[name].pop("cross_fit_confidences"), c, bins)}
        labels = {"raw": "raw score", "synthetic_fit": f"fitted on synthetic ({shipped.method})",
                  "own_data_fit": "fitted on the other half (cross-fit)"}
        svg = reliability_svg(f"{name} (real-dev, {len(c)} words)", {labels[k]: v for k, v in curves.items()},
                              dashed=(labels["raw"],))
        out.with_name(f"{out.stem}_{name}.svg").write_text(svg, encoding="utf-8")
        rows[name] = curves
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "calibration")
    ap.add_argument("--model", default=None, help="default: the bundled model (its card names its renderer)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--val-images", type=int, default=4000, help="synthetic validation words to fit on")
    ap.add_argument("--bins", type=int, default=15)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--target-precision", type=float, default=0.99)
    ap.add_argument("--seed", type=int, default=0, help="of the own-data halves")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--calibration-out", type=Path, default=None,
                    help="also write the synthetic fit (the one to ship: `textrec bundle --calibration FILE`)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: real development data not found", file=sys.stderr)
        return 2
    from real_dev import file_sha256, load_real_sets, shown_path  # bench/, on sys.path as the script's folder

    from textrec.calibration import (
        METHODS,
        expected_calibration_error,
        fit,
        fit_best,
        raw_confidences,
    )
    from textrec.inference.recognizer import Recognizer

    bench, t0 = Bench.start(), time.perf_counter()
    rec = Recognizer(args.model, calibration=False)
    card_file = rec.model.with_suffix(".json")
    if not card_file.is_file():
        print(f"{card_file}: no model card naming the model's renderer settings", file=sys.stderr)
        return 2
    synth = json.loads(card_file.read_text(encoding="utf-8"))["data"]["synth"]
    with tempfile.TemporaryDirectory(prefix="textrec-calibration-") as tmp:
        render = render_validation(synth, args.val_images, Path(tmp) / "val", args.processes)
        val = outputs_of(rec.engine, Path(tmp) / "val", rec.charset)
        sets = load_real_sets(args.data, Path(tmp), args.processes)
        real = {SETS.get(rs.name, rs.name): outputs_of(rec.engine, Path(tmp) / rs.name, rec.charset) for rs in sets}

    shipped = fit_best(*val, bins=args.bins, folds=args.folds,
                       fitted_on={"data": "the synthetic validation split (no real image)", **render,
                                  "accuracy": float(val[1].mean()), "model_sha256": file_sha256(rec.model)})
    if args.calibration_out:
        shipped.save(args.calibration_out)
    fits = {m: fit(m, *val, args.bins) for m in METHODS}
    own = own_data_fit(real, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    diagrams = write_diagrams(real, shipped, own, args.bins, args.out)
    report_sets = {}
    for name, (p, c) in real.items():
        report_sets[name] = {
            "count": len(c), "accuracy": float(c.mean()), "mean_confidence": float(raw_confidences(p).mean()),
            "ece_before": expected_calibration_error(raw_confidences(p), c, args.bins),
            "synthetic_fit": {m: measure(cal, p, c, args.bins, args.target_precision)
                              | {"validation_threshold": transfer(cal, val, p, c, args.target_precision)}
                              for m, cal in [*fits.items(), ("chosen", shipped)]},
            "own_data_fit": own[name], "reliability": diagrams[name]}
    done = {}
    for name, s in report_sets.items():
        synth_fit, own_fit = s["synthetic_fit"]["chosen"], s["own_data_fit"]["fit_on_first_half"]["methods"]["chosen"]
        done[name] = {"before": s["ece_before"], "synthetic_fit": synth_fit["ece_after"],
                      "own_data_fit": own_fit["ece_after"], "limit": DONE_WHEN_ECE,
                      "coverage_at_precision": {"synthetic_fit": synth_fit["coverage"],
                                                "own_data_fit": own_fit["coverage"]}}
    result = {"model": shown_path(rec.model), "model_sha256": file_sha256(rec.model),
              "protocol": "DTRB: case-insensitive, 0-9a-z only", "bins": args.bins,
              "target_precision": args.target_precision,
              "synthetic_validation": {**render, "accuracy": float(val[1].mean()),
                                       "ece_before": shipped.selection["ece_uncalibrated"],
                                       "cv_ece": shipped.selection["cv_ece"], "chosen": shipped.method,
                                       "calibration": {"method": shipped.method, "parameters": shipped.parameters}},
              "sets": report_sets, "done_when": done, "seconds": round(time.perf_counter() - t0, 1)}
    bench.write(args.out, result)
    print(f"synthetic validation: {render['count']} words, accuracy {val[1].mean():.3f}; chosen {shipped.describe()} "
          f"(cross-validated ECE {', '.join(f'{m} {v:.4f}' for m, v in shipped.selection['cv_ece'].items())})")
    for name, d in done.items():
        print(f"{name}: ECE {d['before']:.4f} -> {d['synthetic_fit']:.4f} (synthetic fit) / {d['own_data_fit']:.4f} "
              f"(own-data fit, held-back half); coverage at {args.target_precision:.0%} precision "
              f"{d['coverage_at_precision']['synthetic_fit']:.1%} / {d['coverage_at_precision']['own_data_fit']:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
