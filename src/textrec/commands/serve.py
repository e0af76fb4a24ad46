"""``textrec serve``: the production model over HTTP, MLflow's scoring app behind ``textrec.serving``'s guard."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def cmd_serve(args: argparse.Namespace) -> int:
    from textrec.config import load_params
    from textrec.serving.server import ServeSettings, run
    from textrec.tracking.scoring import fetch_model
    from textrec.tracking.store import resolve_store

    params = load_params(args.params)
    store = resolve_store(params.tracking, Path(args.root))
    uri = args.model_uri or f"models:/{params.promotion.model_name}@production"
    limit = params.promotion.max_request_bytes
    with tempfile.TemporaryDirectory(prefix="textrec-serve-") as tmp:
        model = fetch_model(uri, store.tracking_uri, Path(tmp))
        log = _log_settings(args, params, uri, model.version)
        print(f"serving {uri}" + (f" (version {model.version})" if model.version else "") + f" on http://{args.host}:"
              f"{args.port}: POST /invocations; bodies over {limit} bytes get 413 (promotion.max_request_bytes)"
              + (f"; predictions logged to {log['path']}" if log else ""), flush=True)
        run(ServeSettings(str(model.path), limit, log), args.host, args.port, args.workers)
    return 0


def _log_settings(args: argparse.Namespace, params, uri: str, version: str | None) -> dict | None:
    """The prediction log of the served model (``ServeSettings.log``): --log / --no-log, else
    monitoring.serve_log; the file is --log's or monitoring.log.path (relative to --root)."""
    import re
    from dataclasses import asdict

    if args.no_log or not (args.log or params.monitoring.serve_log):
        return None
    path = Path(args.log) if args.log else Path(args.root) / params.monitoring.log.path
    name = m[1] if (m := re.fullmatch(r"models:/([^/@]+)[/@].*", uri)) else uri
    return {"path": str(path.resolve()), "model": name, "version": version or "unregistered",
            "cfg": asdict(params.monitoring.log)}


def register(sub) -> None:
    sp = sub.add_parser("serve", help="serve the production model over HTTP (MLflow's scoring protocol; "
                        "bounded request size, errors that never quote the request)")
    sp.add_argument("--params", default="params.yaml", help="its promotion section names the model and "
                    "the request size limit; its tracking section the store")
    sp.add_argument("--root", default=".", help="project root (relative paths and the default store)")
    sp.add_argument("-m", "--model-uri", help="default: models:/<promotion.model_name>@production")
    sp.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines' requests")
    sp.add_argument("--port", type=int, default=5001, help="(default: %(default)s)")
    sp.add_argument("--workers", type=int, default=1, help="server processes (each loads the model)")
    log = sp.add_mutually_exclusive_group()
    log.add_argument("--log", metavar="DB", help="log every prediction to this SQLite file (default when "
                     "monitoring.serve_log is true: monitoring.log.path)")
    log.add_argument("--no-log", action="store_true", help="do not log predictions (overrides monitoring.serve_log)")
    sp.set_defaults(func=cmd_serve)
