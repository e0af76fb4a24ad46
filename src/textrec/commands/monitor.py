"""``textrec monitor`` (a window of the prediction log against the model's reference) and ``textrec reference``
(write a model's reference: its predictions on its validation set)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

NO_REFERENCE = "write it with `textrec reference --data data/lmdb/val` and"


def _setup(args: argparse.Namespace):
    from textrec.config import load_params

    params = load_params(args.params)
    root = Path(args.root)
    log = Path(args.log) if args.log else root / params.monitoring.log.path
    return params, root, log


def local_reference(log: Path, model: str, version: str) -> Path:
    """Where ``textrec reference`` keeps the reference of a model that is not in the registry."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in f"{model}-{version}")
    return log.parent / "references" / f"{safe}.json"


def _reference(args: argparse.Namespace, params, root: Path, log: Path, model: str, version: str, tmp: Path):
    """(the reference, whether the version is registered): --reference, else the registered version's
    artifact, else the local file ``textrec reference`` wrote; a missing one is one MonitorError line."""
    from textrec.monitoring.monitor import MonitorError
    from textrec.monitoring.reference import Reference
    from textrec.tracking.monitoring import fetch_reference
    from textrec.tracking.store import resolve_store

    if args.reference:
        return Reference.load(args.reference), not args.no_mlflow and _registered(params, root, model, version)
    try:
        found = fetch_reference(resolve_store(params.tracking, root), model, version, tmp)
    except ValueError:  # not a registered version: a model file logged by predict or the Python API
        local = local_reference(log, model, version)
        if local.is_file():
            return Reference.load(local), False
        raise MonitorError(f"{model} version {version} has no reference (not a registered version, and no "
                           f"{local}): {NO_REFERENCE} --model MODEL, or pass --reference FILE") from None
    if found is None:
        raise MonitorError(f"{model} version {version} has no reference: {NO_REFERENCE} --model-uri "
                           f"models:/{model}/{version}, or pass --reference FILE")
    return Reference.load(found), True


def _registered(params, root: Path, model: str, version: str) -> bool:
    from textrec.tracking.monitoring import model_version
    from textrec.tracking.store import resolve_store

    try:
        model_version(resolve_store(params.tracking, root), model, version)
    except ValueError:
        return False
    return True


def cmd_monitor(args: argparse.Namespace) -> int:
    from textrec.monitoring.monitor import check, parse_since, read_window, require_window
    from textrec.monitoring.report import write_report
    from textrec.monitoring.store import open_log

    params, root, log = _setup(args)
    con = open_log(log)
    since = parse_since(args.since) if args.since else None
    until = parse_since(args.until) if args.until else None
    window = read_window(con, args.model, args.version, args.last or params.monitoring.window, since, until)
    con.close()
    require_window(window, params.monitoring)  # before the reference is looked for: no verdict either way
    with tempfile.TemporaryDirectory(prefix="textrec-monitor-") as tmp:
        reference, registered = _reference(args, params, root, log, window.model, window.version, Path(tmp))
    result = check(window, reference, params.monitoring)
    out = Path(args.out) if args.out else root / params.paths.reports / "monitoring"
    report = write_report(result, out / "monitor.html")
    (out / "monitor.json").write_text(json.dumps(_summary(result), indent=1) + "\n", encoding="utf-8")
    for c in result.checks:
        print(("ALARM " if c.alarm else "ok    ") + c.describe())
    if window.failures:
        print(f"predictions that could not be logged, by reason: {window.failures}")
    print(f"report: {report}")
    if registered and not args.no_mlflow:
        from textrec.tracking.monitoring import log_check
        from textrec.tracking.store import resolve_store

        step = log_check(resolve_store(params.tracking, root), window.model, window.version, result.metrics(),
                         report, result.reason)
        print(f"MLflow: check {step} logged on {window.model} version {window.version}'s run")
    if result.alarm:
        print(f"textrec monitor: {result.reason}", file=sys.stderr)
        return 1
    print(result.reason)
    return 0


def _summary(result) -> dict:
    w = result.window
    return {"model": w.model, "version": w.version, "alarm": result.alarm, "reason": result.reason,
            "window": {"count": len(w.observations), "first_id": w.first_id, "last_id": w.last_id,
                       "first_time": w.first_time, "last_time": w.last_time, "not_logged": w.failures},
            "reference": {"count": len(result.reference.observations), "source": result.reference.source},
            "checks": [{k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(c).items()}
                       for c in result.checks]}


def cmd_reference(args: argparse.Namespace) -> int:
    from textrec.monitoring.reference import Reference, observe, validation_images

    params, root, log = _setup(args)
    images = validation_images(args.data, args.limit)
    with tempfile.TemporaryDirectory(prefix="textrec-reference-") as tmp:
        if args.model_uri:
            from textrec.tracking.monitoring import attach_reference, served_predictor
            from textrec.tracking.store import resolve_store

            model, version = _registered_uri(args.model_uri)
            store = resolve_store(params.tracking, root)
            obs = observe(served_predictor(store, model, version, Path(tmp)), images)
            ref = Reference(model, version, str(args.data), obs)
            out = ref.save(Path(args.out) if args.out else Path(tmp) / "reference.json")
            attach_reference(store, model, version, out, len(obs), str(args.data))
            print(f"reference of {model} version {version}: {len(obs)} predictions on {args.data}, kept with the "
                  "version in MLflow (artifact monitoring/reference.json)")
            return 0
        from textrec.inference.recognizer import Recognizer
        from textrec.monitoring.hooks import identity

        rec = Recognizer(args.model, dictionary=args.dict)
        model, version = identity(rec)  # what the Recognizer logs under
        model = args.name or model
        obs = observe(lambda chunk: [(p.text, p.confidence) for p in rec(chunk)], images)
    out = Reference(model, version, str(args.data), obs).save(Path(args.out) if args.out
                                                              else local_reference(log, model, version))
    print(f"reference of {model} version {version}: {len(obs)} predictions on {args.data} -> {out}")
    return 0


def _registered_uri(uri: str) -> tuple[str, str]:
    import re

    m = re.fullmatch(r"models:/([^/@]+)/(\d+)", uri)
    if not m:
        raise ValueError(f"--model-uri {uri!r}: expected models:/<name>/<version> (a registered version)")
    return m[1], m[2]


def _common(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--params", default="params.yaml", help="its monitoring section; its tracking section "
                    "names the MLflow store")
    sp.add_argument("--root", default=".", help="project root (relative paths and the default store)")
    sp.add_argument("--log", metavar="DB", help="the prediction log (default: monitoring.log.path)")


def register(sub) -> None:
    sp = sub.add_parser("monitor", help="compare recent predictions with the model's reference; exit 1 with "
                        "one line when a drift limit is crossed")
    _common(sp)
    sp.add_argument("--model", help="model name in the log (default: that of the newest prediction)")
    sp.add_argument("--version", help="its version (default: that of the newest prediction)")
    sp.add_argument("--last", type=int, help="window: the last N predictions (default: monitoring.window)")
    sp.add_argument("--since", help="window: only predictions since then (30m, 2h, 7d or an ISO time)")
    sp.add_argument("--until", help="window: only predictions before then (a duration ago or an ISO time)")
    sp.add_argument("--reference", help="reference file (default: the registered version's, or the one "
                    "textrec reference wrote beside the log)")
    sp.add_argument("--out", help="folder of monitor.html and monitor.json (default: <paths.reports>/monitoring)")
    sp.add_argument("--no-mlflow", action="store_true", help="do not log the check on the version's run")
    sp.set_defaults(func=cmd_monitor)

    sp = sub.add_parser("reference", help="write a model's reference for textrec monitor: its predictions on "
                        "its validation set")
    _common(sp)
    sp.add_argument("--data", required=True, help="validation images: an LMDB (data/lmdb/val) or a folder")
    src = sp.add_mutually_exclusive_group(required=True)
    src.add_argument("--model-uri", help="models:/<name>/<version>: the registered version, as served; the "
                     "reference is kept with it in MLflow")
    src.add_argument("--model", help="a model file as textrec predict takes it (bundled, .onnx, ...)")
    sp.add_argument("--dict", help="dictionary of --model")
    sp.add_argument("--name", help="model name of --model in the log (default: its file name)")
    sp.add_argument("--limit", type=int, help="at most this many images")
    sp.add_argument("--out", help="reference file (default: beside the log, references/<model>-<version>.json)")
    sp.set_defaults(func=cmd_reference)
