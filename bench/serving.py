"""Load test of the served recognizer: N concurrent clients for a fixed time, one word image per request.

    python bench/serving.py                         # serve models:/<model_name>@production from the project store
    python bench/serving.py --url http://127.0.0.1:5001 --images path/to/word/images

Starts `mlflow models serve` on 127.0.0.1 (or uses --url, loopback only), drives --clients threads, each
with its own keep-alive connection, for --duration seconds, and writes reports/bench/serving.json:
{"schema_version", "machine", "clients", "requests", "errors", "p50_ms", "p99_ms", ...}. Latency = request
sent -> full response read. The machine record's load average is read just before the warm-up request and
after the last response.
"""

from __future__ import annotations

import base64
import http.client
import json
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from harness import Bench, parser  # bench/, on sys.path as the script's folder

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}


def load_images(path: Path, limit: int) -> list[str]:
    """Base64 word images from a folder of image files or an LMDB (directory with data.mdb)."""
    if (path / "data.mdb").exists():
        from textrec.data.lmdb_io import iter_records

        raw = [img for _, img, _ in iter_records(path) if img][:limit]
    else:
        raw = [p.read_bytes() for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES][:limit]
    if not raw:
        raise SystemExit(f"no images found in {path}")
    return [base64.b64encode(b).decode() for b in raw]


def client(url: str, bodies: list[bytes], deadline: float, offset: int, out: list, lock: threading.Lock) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    results = []  # (latency ms, status or -1 for a failed connection)
    i = offset
    while time.perf_counter() < deadline:
        body = bodies[i % len(bodies)]
        i += 1
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            results.append(((time.perf_counter() - t0) * 1000, resp.status))
        except (OSError, http.client.HTTPException):
            results.append(((time.perf_counter() - t0) * 1000, -1))
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.close()
    with lock:
        out.extend(results)


def run(url: str, images: list[str], clients: int, duration: float) -> dict:
    bodies = [json.dumps({"inputs": {"image": [b]}}).encode() for b in images]
    # warm-up: first request loads lazily initialised parts of the server
    conn = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=120)
    conn.request("POST", "/invocations", bodies[0], {"Content-Type": "application/json"})
    warm = conn.getresponse()
    if warm.status != 200:
        raise SystemExit(f"warm-up request failed: HTTP {warm.status} {warm.read()[:300]!r}")
    conn.close()
    results: list[tuple[float, int]] = []
    lock = threading.Lock()
    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(url, bodies, start + duration, k, results, lock))
               for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    ok = sorted(ms for ms, status in results if status == 200)
    q = statistics.quantiles(ok, n=100, method="inclusive") if len(ok) > 1 else ok * 99
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {"clients": clients, "requests": len(results), "errors": len(results) - len(ok),
            "p50_ms": q[49] if ok else None, "p99_ms": q[98] if ok else None,
            "mean_ms": statistics.fmean(ok) if ok else None, "max_ms": ok[-1] if ok else None,
            "throughput_rps": len(ok) / elapsed, "duration_s": elapsed, "statuses": statuses,
            "images": len(images), "url": url}


def main() -> None:
    ap = parser(__doc__, "serving")
    ap.add_argument("--url", help="an already running endpoint on this machine (default: start one)")
    ap.add_argument("--model-uri", help="default: models:/<promotion.model_name>@production")
    ap.add_argument("--images", type=Path, help="image folder or LMDB (default: the first benchmark LMDB)")
    ap.add_argument("--max-images", type=int, default=256)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of a started server")
    ap.add_argument("--params", default="params.yaml")
    args = ap.parse_args()

    from servers import start_scoring_server  # bench/servers.py, beside this script

    from textrec.config import load_params
    from textrec.tracking.store import resolve_store

    params = load_params(args.params)
    images_path = args.images or params.paths.bench_lmdb(params.eval.benchmarks[0])
    images = load_images(images_path, args.max_images)
    if args.url:
        if urlsplit(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"--url must point at this machine (127.0.0.1), got {args.url}")
        bench = Bench.start()
        result = bench.write(args.out, run(args.url.rstrip("/"), images, args.clients, args.duration))
    else:
        uri = args.model_uri or f"models:/{params.promotion.model_name}@production"
        store = resolve_store(params.tracking, ".")
        with start_scoring_server(uri, store.tracking_uri, args.out.parent / "serving_server.log",
                                  workers=args.workers) as srv:
            bench = Bench.start()  # written before the server stops: the load at the end is the run's
            result = bench.write(args.out, run(srv.url, images, args.clients, args.duration)
                                 | {"model_uri": uri, "workers": args.workers})
    print(f"{result['requests']} requests, {result['errors']} errors, {result['throughput_rps']:.1f} req/s, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms -> {args.out}")


if __name__ == "__main__":
    main()
