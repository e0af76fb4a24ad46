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
        print(f"serving {uri}" + (f" (version {model.version})" if model.version else "") + f" on http://{args.host}:"
              f"{args.port}: POST /invocations; bodies over {limit} bytes get 413 (promotion.max_request_bytes)",
              flush=True)
        run(ServeSettings(str(model.path), limit), args.host, args.port, args.workers)
    return 0


def register(sub) -> None:
    sp = sub.add_parser("serve", help="serve the production model over HTTP (MLflow's scoring protocol; "
                        "bounded request size, errors that never quote the request)")
    sp.add_argument("--params", default="params.yaml", help="its promotion section names the model and "
                    "the request size limit; its tracking section the store")
    sp.add_argument("--root", default=".", help="project root (relative paths and the default store)")
    sp.add_argument("-m", "--model-uri", help="default: models:/<promotion.model_name>@production")
    sp.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines' requests")
    sp.add_argument("--port", type=int, default=5001)
    sp.add_argument("--workers", type=int, default=1, help="server processes (each loads the model)")
    sp.set_defaults(func=cmd_serve)
