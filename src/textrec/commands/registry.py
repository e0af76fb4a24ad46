"""``textrec track``, ``textrec register``, ``textrec promote`` and ``textrec rollback`` (MLflow)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _setup(args: argparse.Namespace):
    from textrec.config import load_params
    from textrec.tracking.store import resolve_store

    params = load_params(args.params)
    root = Path(args.root)
    return params, resolve_store(params.tracking, root)


def cmd_track(args: argparse.Namespace) -> int:
    from textrec.tracking.log import track_pipeline_run

    params, store = _setup(args)
    tracked = track_pipeline_run(params, args.root, tuple(args.backbone or ()) or None, args.pipeline_run_id,
                                 store=store)
    print(f"pipeline run {tracked.pipeline_run_id} -> {store.tracking_uri} experiment {store.experiment!r}")
    for bb, run_id in tracked.run_ids.items():
        print(f"  {bb}: run {run_id}")
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from textrec.tracking.registry import register_best

    params, store = _setup(args)
    rv = register_best(params, store, args.pipeline_run_id)
    print(f"{rv.model_name} version {rv.version} (alias challenger): {rv.backbone}, run {rv.run_id}, "
          f"pipeline run {rv.pipeline_run_id}, {rv.metric}={rv.score:.4f}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    from textrec.tracking.registry import promote

    params, store = _setup(args)
    d = promote(params.promotion, store, args.version, allow_rolled_back=args.allow_rolled_back)
    print(f"{d.model_name} version {d.version}: {d.decision} (production before: {d.previous_production})")
    for g in d.gates:
        print(f"  {g}")
    return 0 if d.decision != "refused" else 1


def cmd_rollback(args: argparse.Namespace) -> int:
    from textrec.tracking.registry import rollback

    params, store = _setup(args)
    old, new = rollback(params.promotion, store, args.reason)
    print(f"{params.promotion.model_name}: production moved back from version {old} to version {new}")
    print(f"  version {old} is tagged rolled_back: `textrec promote` refuses it without --allow-rolled-back")
    return 0


def _common(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--params", default="params.yaml",
                    help="its promotion section names the model and the gates, its tracking section the store")
    sp.add_argument("--root", default=".", help="project root (relative paths and the default store)")


def register(sub) -> None:
    from textrec.config import BACKBONES

    sp = sub.add_parser("track", help="log a finished pipeline run to MLflow (one run per backbone; the "
                        "files are where params.yaml's paths put them)")
    _common(sp)
    sp.add_argument("--backbone", action="append", choices=BACKBONES,
                    help="only this backbone (repeatable; default: all)")
    sp.add_argument("--pipeline-run-id", help="id grouping the backbones' runs (default: a new one)")
    sp.set_defaults(func=cmd_track)

    sp = sub.add_parser("register", help="register the best run of a pipeline run as the challenger")
    _common(sp)
    sp.add_argument("--pipeline-run-id", help="default: the latest tracked pipeline run")
    sp.set_defaults(func=cmd_register)

    sp = sub.add_parser("promote", help="move alias production to the challenger if every gate passes "
                        "(exit 1 when refused)")
    _common(sp)
    sp.add_argument("--version", help="promote this version instead of the challenger")
    sp.add_argument("--allow-rolled-back", action="store_true",
                    help="promote a version that was rolled back from production (refused otherwise)")
    sp.set_defaults(func=cmd_promote)

    sp = sub.add_parser("rollback", help="move alias production back to the previous production version "
                        "(tagged rolled_back: promote refuses it from then on)")
    _common(sp)
    sp.add_argument("--reason", help="why (kept in the version's tag rollback.reason)")
    sp.set_defaults(func=cmd_rollback)
