"""After production, end to end on real-dev: serve, log, monitor, select, label, fine-tune, promote.

1. Production: the bundled MobileNetV3 brought into the registry by a 0-step run of the `finetune` profile
   (init: bundled, max_steps: 0: the weights as shipped, exported and quantized by the pipeline; its
   validation set: 2,000 synthetic renders of the pretraining's own kind, its monitoring reference), with
   the IC15 crops held back (those never sent) as the test set; registered, referenced, promoted.
2. `textrec serve --log` serves it; 2,000 synthetic renders, then 2,000 real-dev IC15-train crops are sent
   one per request. Each also goes to a second server without logging, alternately first: the latency pair.
3. `textrec monitor` on the synthetic window, then on the IC15 window.
4. `textrec select --n 500 --audit 300 --auto-accept T` on the IC15 window (T: production's auto-accept
   threshold, 99% precision on its validation set): the 500 least confident crops for the human, whose part
   the true labels play, 300 more at random (the audit: labelled too, the new version's validation set, so
   its calibration and monitoring reference), and the crops read with confidence >= T taken as read. The `hard-example-loop` flow adds them,
   fine-tunes from the bundled weights (= production's), registers, writes the reference and promotes if the
   gates pass. The same recipe and seed on 500 random crops (`--order random`, the same T), and both again
   with the 500 human labels alone (no auto-accepted crops): registered, not promoted.
5. The gain: accuracy on the held-back IC15 crops (acc_<served precision>/own_test) of each arm minus production.
   Calibration (``calibration``): ECE and coverage at 99% precision on IIIT5K-train (never sent; ``--audit``
   crops at random are that deployment's labelled sample, the rest held back) and on the held-back IC15 crops:
   the bundled model raw, with its shipped calibration and with one fitted on the deployment's labelled crops;
   the promoted model as served, raw and with the calibration its loop fitted on the audit; and each arm's
   model as its pipeline measured it (`calibration_after_loop`).

    nice .venv/bin/python bench/production_loop.py              # -> reports/bench/production_loop.json
    .venv/bin/python bench/production_loop.py --tiny --keep /tmp/loop   # plumbing: small sizes, 2 steps

Every project is a copy of this checkout's HEAD (git archive) in a work folder, run with its own sources
(PYTHONPATH); the real-dev images are only read where they are (label files point at them), never copied
into a project or the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import yaml
from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder

from textrec.artifacts import CalibrationReport
from textrec.artifacts.metrics import acc_key

IC15, IIIT = "IC15_train_4468", "IIIT5k_train_2000"
MODEL = "crnn-finetuned"  # the finetune profile's registered model
SERVED = Path("exported", "mobilenet_v3", "model_int8.onnx")  # in an arm's project: the model its version serves
# (arm, select order, with the auto-accepted readings): the loop as shipped first (promoted if the gates pass),
# its random baseline, then both with the human's 500 labels alone
ARMS = (("selected", "confidence", True), ("random", "random", True), ("selected_human_only", "confidence", False),
        ("random_human_only", "random", False))


class Work:
    """The work folder: its log, and the environment every command runs in."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "bench.log"

    def env(self, project: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(PYTHONPATH=f"{project / 'src'}{os.pathsep}{project}", MLFLOW_TRACKING_URI=f"sqlite:///{self.root}"
                   "/mlflow.db", PREFECT_HOME=str(self.root / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_SERVER_UI_ENABLED="false", PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
        return env

    def run(self, cmd: list[str], project: Path, check: bool = True) -> int:
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(cmd)}  (in {project})\n")
            log.flush()
            code = subprocess.run(cmd, cwd=project, env=self.env(project), stdout=log, stderr=subprocess.STDOUT).returncode
        if check and code != 0:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"{' '.join(cmd[:4])} ... failed (exit {code}):\n{tail}")
        return code

    def textrec(self, project: Path, *args: str, check: bool = True) -> int:
        return self.run([sys.executable, "-m", "textrec.cli", *args], project, check)


def copy_project(dst: Path) -> Path:
    """HEAD of this checkout in ``dst``, as its own git repository (DVC wants one)."""
    dst.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=b", "-c", "user.email=b@b",
                                                                "commit", "-qm", "copy"]):
        subprocess.run(cmd, cwd=dst, check=True, capture_output=True)
    return dst


def real_rows(data: Path, folder: str) -> list[tuple[str, str]]:
    """(image path, label) of a real-dev folder whose label keeps a character under the DTRB rule and fits in
    25 (what prepare would accept), in file order."""
    from textrec.evaluation.metrics import dtrb_normalize

    rows = []
    for line in (data / folder / "labels.tsv").read_text(encoding="utf-8").splitlines():
        rel, _, label = line.partition("\t")
        if 0 < len(dtrb_normalize(label)) <= 25:
            rows.append((str(data / folder / rel), label))
    return rows


def render(dst: Path, seed: int, n: int) -> list[bytes]:
    """``n`` renders of the pretraining's kind (the train profile, stream val) as an LMDB; their bytes."""
    from textrec.config import SynthConfig
    from textrec.data.lmdb_io import iter_records
    from textrec.data.synth.generate import write_lmdb
    from textrec.data.synth.profiles import TRAIN
    from textrec.data.synth.suite import make_context

    write_lmdb(dst, "val", make_context(SynthConfig()), TRAIN, seed=seed, n=n, processes=2)
    return [img for _, img, _ in iter_records(dst)]


def finetune_params(project: Path, held: Path, overrides: dict) -> None:
    """The finetune profile, measured on the held-back crops only (no synthetic suite: minutes saved)."""
    from textrec.profiles import compose

    p = compose("finetune", project)  # profiles/base.yaml + profiles/finetune.yaml
    p["data"]["folder"]["test"] = [{"src": str(held), "format": "paddleocr", "name": "own_test"}]  # absolute paths
    p["eval"]["benchmarks"] = ["own_test"]
    p["train"]["mobilenet_v3"]["time_budget_minutes"] = None  # the steps decide
    for dotted, value in overrides.items():
        node = p
        *parents, key = dotted.split(".")
        for k in parents:
            node = node.setdefault(k, {})
        node[key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")


def production(work: Work, held: Path, n_ref: int, min_window: int) -> Path:
    p = copy_project(work.root / "production")
    render(p / "data" / "own" / "day0" / "val", 1234, n_ref)  # the pretrain profile's val seed
    render(p / "data" / "own" / "day0" / "train", 99, 64)  # prepare needs a train set; 0 steps read none
    finetune_params(p, held, {"data.folder.train": [{"src": "day0/train", "format": "lmdb"}],
                              "data.folder.val": [{"src": "day0/val", "format": "lmdb"}],
                              "train.mobilenet_v3.max_steps": 0, "train.mobilenet_v3.processes": 1,
                              "monitoring.min_window": min_window})
    # the store's tables first: made by the train stage's rank 0 on a loaded machine they took ~30 s, and the
    # other rank timed out waiting in gloo (one rank above: no peer to wait)
    work.run([sys.executable, "-c", "import mlflow, os; mlflow.MlflowClient(os.environ['MLFLOW_TRACKING_URI'])"
              ".search_experiments()"], p)
    work.run([sys.executable, "-m", "dvc", "repro"], p)
    for args in (["track"], ["register"], ["reference", "--model-uri", f"models:/{MODEL}/1", "--data", "data/lmdb/val"],
                 ["promote"]):
        work.textrec(p, *args)
    return p


def _post(url: str, image: bytes) -> float:
    import base64
    import urllib.request

    body = json.dumps({"inputs": {"image": [base64.b64encode(image).decode()]}}).encode()
    req = urllib.request.Request(url + "/invocations", body, {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return 1000 * (time.perf_counter() - t0)


def serve_and_send(work: Work, p: Path, images: list[bytes], log: Path) -> dict:
    """Both servers, every image to each (alternately first); returns latencies and the log's row count."""
    import statistics

    from servers import free_port, start_server  # bench/servers.py, beside this script

    def server(*extra: str):
        port = free_port()
        return start_server([sys.executable, "-m", "textrec.cli", "serve", "--params", str(p / "params.yaml"),
                             "--root", str(p), "--port", str(port), *extra], "/ping",
                            work.root / f"serve{port}.log", work.env(p), 300, port)

    with server("--log", str(log)) as on, server("--no-log") as off:
        for img in images[:20]:  # warm-up, not logged in the windows: sent to the unlogged server only
            _post(off.url, img)
        ms = {"on": [], "off": []}
        for i, img in enumerate(images):
            pair = (("on", on), ("off", off)) if i % 2 == 0 else (("off", off), ("on", on))
            for name, srv in pair:
                ms[name].append(_post(srv.url, img))
        deadline = time.monotonic() + 120
        while _rows(log) < len(images) and time.monotonic() < deadline:
            time.sleep(0.5)
    med = {k: statistics.median(v) for k, v in ms.items()}
    return {"requests_each": len(images), "median_ms": med, "mean_ms": {k: statistics.fmean(v) for k, v in ms.items()},
            "overhead": med["on"] / med["off"] - 1, "logged_rows": _rows(log)}


def _rows(log: Path) -> int:
    try:
        with sqlite3.connect(f"{log.as_uri()}?mode=ro", uri=True) as con:
            return con.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    except sqlite3.Error:
        return 0


def monitor(work: Work, p: Path, log: Path, name: str, window: list[str]) -> dict:
    out = work.root / f"monitor-{name}"
    code = work.textrec(p, "monitor", "--log", str(log), "--out", str(out), *window, check=False)
    if not (out / "monitor.json").is_file():  # no verdict (exit 2): its one line is the log's last
        return {"exit": code, "alarm": None, "error": work.log.read_text(errors="replace").splitlines()[-1]}
    summary = json.loads((out / "monitor.json").read_text())
    return {"exit": code, "alarm": summary["alarm"], "reason": summary["reason"], "count": summary["window"]["count"],
            "checks": {c["name"]: {k: c[k] for k in ("effect", "p_value", "alarm")} for c in summary["checks"]}}


def label_batch(batch: Path, truth: dict[str, str]) -> Path:
    """The stand-in human: each image's true label, found by its sha256."""
    lines = []
    for line in (batch / "rec_gt_batch.txt").read_text(encoding="utf-8").splitlines():
        file = line.partition("\t")[0]
        lines.append(f"{file}\t{truth[hashlib.sha256((batch / file).read_bytes()).hexdigest()]}\n")
    out = batch / "labelled.txt"
    out.write_text("".join(lines), encoding="utf-8")
    return out


def loop(work: Work, name: str, held: Path, batch: Path, labels: Path, recipe: dict, promote: bool,
         val_fraction: float) -> dict:
    """One arm: the flow from the labelled batch on; its training summary, recipe and the calibration its
    pipeline fitted (validation set) as measured on the held-back crops (own_test)."""
    lp = copy_project(work.root / f"loop-{name}")
    finetune_params(lp, held, {f"train.mobilenet_v3.{k}": v for k, v in recipe.items()})
    t0 = time.monotonic()
    work.run([sys.executable, "-m", "pipelines.loop_flow", "--batch", str(batch), "--labels", str(labels),
              "--project-dir", str(lp), "--val-fraction", str(val_fraction), *([] if promote else ["--no-promote"])],
             lp)
    used = yaml.safe_load((lp / "params.yaml").read_text())["train"]["mobilenet_v3"]
    fitted = json.loads((lp / "reports" / "calibration" / "mobilenet_v3.json").read_text())
    held_cal = json.loads((lp / "reports" / "eval" / "mobilenet_v3" / "own_test.json").read_text())["calibration"]
    return {"minutes": round((time.monotonic() - t0) / 60, 1), "train": json.loads(
        (lp / "reports" / "train" / "mobilenet_v3" / "train.json").read_text()),
        "recipe": {k: used.get(k) for k in ("max_steps", "batch_size", "lr", "wise_alpha", "keep", "augment")},
        "calibration": {"method": fitted["method"], "fitted_on": fitted["validation"]["count"],
                        "held_back": {k: held_cal[k] for k in ("count", "accuracy", "ece_before", "ece_after",
                                                               "threshold", "coverage")}}}


def registry(work: Work) -> dict:
    from mlflow import MlflowClient

    c = MlflowClient(tracking_uri=f"sqlite:///{work.root}/mlflow.db", registry_uri=f"sqlite:///{work.root}/mlflow.db")
    out = {}
    for mv in c.search_model_versions(f"name = '{MODEL}'"):
        m = c.get_run(mv.run_id).data.metrics
        out[str(mv.version)] = {"acc_fp32": m.get(acc_key("fp32", "own_test")), "acc_int8": m.get(acc_key("int8", "own_test")),
                                "decision": mv.tags.get("promotion.decision"), "precision": mv.tags.get("precision"),
                                "monitoring": {k: v for k, v in m.items() if k.startswith("monitoring/")}}
    out["production"] = str(c.get_model_version_by_alias(MODEL, "production").version)
    return out


def own_fit(work: Work, rows: list[tuple[str, str]], out: Path) -> Path:
    """The bundled model's calibration fitted on ``rows`` (labelled crops of one deployment) by `textrec
    calibrate` (method: the lowest cross-validated ECE); the file."""
    labels = out.with_suffix(".txt")
    labels.write_text("".join(f"{f}\t{lab}\n" for f, lab in rows), encoding="utf-8")
    work.run([sys.executable, "-m", "textrec.cli", "calibrate", "--data", str(labels), "--format", "paddleocr",
              "--out", str(out), "--no-progress"], work.root)
    return out


def calibration(work: Work, rows: dict[str, list[tuple[str, str]]], fits: dict[str, list[tuple[str, str]]],
                promoted: Path | None) -> tuple[dict, dict]:
    """ECE and coverage at 99% precision on the held-back ``rows`` of each set, by confidence: the bundled model
    raw (before), with its shipped calibration (shipped: fitted on synthetic renders), with one fitted on that
    deployment's own labelled crops ``fits`` by `textrec calibrate` (own_data); for IC15 also the promoted model
    (``promoted``: the selected arm's project; its INT8 ONNX read as `textrec serve` reads it) raw and with the
    calibration its loop fitted on the audit. ``after`` is each deployment's calibration: IIIT5K own_data, IC15
    the promoted model's (the shipped one for a run without a selected arm)."""
    import numpy as np

    from textrec.calibration import Calibration, auto_accept_threshold, expected_calibration_error
    from textrec.evaluation.metrics import dtrb_normalize
    from textrec.inference.recognizer import Recognizer

    def measured(rec: Recognizer, items: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
        read = rec.predict_files([Path(f) for f, _ in items])  # confidences [N], right [N]
        right = [dtrb_normalize(r.text) == dtrb_normalize(lab) for r, (_, lab) in zip(read, items, strict=True)]
        return np.array([r.confidence for r in read]), np.array(right)

    bundle = {"before": Recognizer(calibration=False), "shipped": Recognizer()}
    after = {"IIIT5K": "own_data", "IC15": "promoted"}
    ece, coverage = {}, {}
    for name, items in rows.items():
        fitted = Calibration.load(own_fit(work, fits[name], work.root / f"own_fit_{name}.calibration.json"))
        recs = bundle | {"own_data": Recognizer(calibration=fitted)}
        if name == "IC15" and promoted is not None:
            charset = yaml.safe_load((promoted / "params.yaml").read_text())["charset"]["dict_path"]
            recs |= {"promoted_raw": Recognizer(promoted / SERVED, dictionary=charset, calibration=False),
                     "promoted": Recognizer(promoted / SERVED, dictionary=charset)}
        got = {k: measured(r, items) for k, r in recs.items()}
        after_is = after[name] if after[name] in got else "shipped"
        got["after"] = got[after_is]
        ece[name] = {k: expected_calibration_error(c, right) for k, (c, right) in got.items()}
        coverage[name] = {k: dict(zip(("threshold", "coverage"), auto_accept_threshold(c, right, 0.99),
                                      strict=True)) for k, (c, right) in got.items()}
        ece[name] |= {"count": len(items), "after_is": after_is,
                      "accuracy": {k: float(right.mean()) for k, (_, right) in got.items()},
                      "own_data_fit": {"count": len(fits[name]), "method": fitted.method}}
    return ece, coverage


def calibration_sets(data: Path, root: Path, audit: int, seed: int = 0) -> tuple[dict, dict]:
    """The sets the calibration is measured on and each deployment's own labelled crops: IIIT5K-train, ``audit``
    of its crops at random (labelled) and the rest held back; IC15, the selected arm's audit (the human's
    random sample of the sent window, true labels) and the held-back crops."""
    import numpy as np

    iiit = real_rows(data, IIIT)
    order = np.random.default_rng(seed).permutation(len(iiit))
    batch = root / "batch-selected"
    truth = dict(line.split("\t", 1) for line in (batch / "labelled.txt").read_text(encoding="utf-8").splitlines())
    ic15_fit = [(str(batch / f), lab) for f, lab in truth.items() if f.startswith("audit/")]
    held = [tuple(line.split("\t", 1)) for line in (root / "heldback_ic15.txt").read_text(encoding="utf-8").splitlines()]
    return ({"IIIT5K": [iiit[i] for i in order[audit:]], "IC15": held},
            {"IIIT5K": [iiit[i] for i in order[:audit]], "IC15": ic15_fit})


def calibration_again(kept: Path, data: Path, out: Path, audit: int) -> int:
    """The calibration rows of a kept run again (its held-back crops and the selected arm's audit); the rest of
    ``out`` stays as that run wrote it."""
    if not (kept / "batch-selected" / "labelled.txt").is_file() or not out.is_file():
        print(f"error: {kept} is not a kept run of this bench with a selected arm, or {out} is missing",
              file=sys.stderr)
        return 2
    bench = Bench.start()
    ece, coverage = calibration(Work(kept), *calibration_sets(data, kept, audit), kept / "loop-selected")
    result = {k: v for k, v in json.loads(out.read_text()).items() if k not in ("schema_version", "machine")}
    bench.write(out, result | {"ece": ece, "coverage_at_precision": {"target": 0.99, **coverage},
                               "calibration_measured_again": True})
    print(json.dumps(ece, indent=1))
    return 0


def latency_again(kept: Path, data: Path, out: Path) -> int:
    """The latency pair of ``serve_and_send`` again (the same images: the kept synthetic window, then the first
    IC15 crops) on a kept run's production project; the rest of ``out`` stays as that run wrote it."""
    from textrec.data.lmdb_io import iter_records

    if not (kept / "production" / "params.yaml").is_file() or not out.is_file():
        print(f"error: {kept} is not a kept run of this bench, or {out} is missing", file=sys.stderr)
        return 2
    bench = Bench.start()
    synthetic = [img for _, img, _ in iter_records(kept / "synthetic_window")]
    real = [Path(f).read_bytes() for f, _ in real_rows(data, IC15)[:len(synthetic)]]
    log = kept / "latency-again.db"
    log.unlink(missing_ok=True)
    latency = serve_and_send(Work(kept), kept / "production", synthetic + real, log)
    result = {k: v for k, v in json.loads(out.read_text()).items() if k not in ("schema_version", "machine")}
    bench.write(out, result | {"latency_batch1": latency | {"measured_again": True}})
    print(f"logging overhead {100 * latency['overhead']:+.1f}% at batch 1 -> {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "production_loop")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real-dev")
    ap.add_argument("--steps", type=int, default=2000, help="fine-tune max_steps (every arm)")
    ap.add_argument("--tiny", action="store_true", help="plumbing: 120 per window, 40 selected, 2 steps")
    ap.add_argument("--audit", type=int, default=300, help="random crops labelled for validation (select --audit)")
    ap.add_argument("--arms", nargs="+", choices=[a for a, _, _ in ARMS], default=[a for a, _, _ in ARMS],
                    help="the loops to run (selected and random are the issue's rows; default: all)")
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    ap.add_argument("--calibration-only", type=Path, metavar="KEPT",
                    help="only the calibration rows again, on a kept run's folder; updates ece and "
                         "coverage_at_precision in --out")
    ap.add_argument("--latency-only", type=Path, metavar="KEPT",
                    help="only the logging latency pair again, with the production project of a kept run's "
                         "folder; updates latency_batch1 in --out")
    args = ap.parse_args(argv)
    if not (args.data / IC15 / "labels.tsv").is_file():
        print(f"error: {args.data}: real-dev data not found", file=sys.stderr)
        return 2
    if args.latency_only:
        return latency_again(args.latency_only.resolve(), args.data, args.out)
    if args.calibration_only:
        return calibration_again(args.calibration_only.resolve(), args.data, args.out, args.audit)
    n, pick, steps, min_window = (120, 40, 2, 50) if args.tiny else (2000, 500, args.steps, 200)
    audit = min(args.audit, 20) if args.tiny else args.audit
    recipe = {"max_steps": steps, **({"batch_size": 16} if args.tiny else {})}
    bench = Bench.start()
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="textrec-loop-")
    root = (args.keep or Path(tmp.name)).resolve()
    if args.keep and root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    work, t0 = Work(root), time.monotonic()
    try:
        ic15 = real_rows(args.data, IC15)
        sent, held_rows = ic15[:n], ic15[n:n + (300 if args.tiny else len(ic15))]
        held = root / "heldback_ic15.txt"
        held.write_text("".join(f"{f}\t{lab}\n" for f, lab in held_rows), encoding="utf-8")
        p = production(work, held, n, min_window)
        synthetic = render(root / "synthetic_window", 4321, n)
        real = [Path(f).read_bytes() for f, _ in sent]
        log = root / "predictions.db"
        latency = serve_and_send(work, p, synthetic + real, log)
        with sqlite3.connect(log) as con:  # between the last synthetic and the first IC15 prediction
            times = [t for (t,) in con.execute("SELECT time FROM predictions ORDER BY id LIMIT 2 OFFSET ?", (n - 1,))]
        at = datetime.fromtimestamp(sum(times) / 2, UTC).isoformat()
        drift = {"synthetic_window": monitor(work, p, log, "synthetic", ["--until", at, "--last", str(n)]),
                 "real_window": monitor(work, p, log, "real", ["--since", at, "--last", str(n)])}
        truth = {hashlib.sha256(b).hexdigest(): lab for b, (_, lab) in zip(real, sent, strict=True)}
        # production's auto-accept threshold (99% precision on its validation set)
        threshold = CalibrationReport.read(p / "reports" / "calibration" / "mobilenet_v3.json").validation.threshold
        arms = {}
        for arm, order, auto in (a for a in ARMS if a[0] in args.arms):
            db = root / f"predictions-{arm}.db"  # each arm picks from the same log, nothing selected yet
            db.unlink(missing_ok=True)
            # sqlite's backup: a copy of the file alone loses the rows still in its write-ahead log (-wal): a tiny
            # run's copy lacked 74 of its 120 IC15 predictions
            with closing(sqlite3.connect(log)) as src, closing(sqlite3.connect(db)) as dst:
                src.backup(dst)
            batch = root / f"batch-{arm}"
            work.textrec(p, "select", "--n", str(pick), "--since", at, "--log", str(db), "--order", order, "--seed",
                         "0", "--audit", str(audit), "--out", str(batch),
                         *(["--auto-accept", str(threshold)] if auto else []))
            arms[arm] = loop(work, arm, held, batch, label_batch(batch, truth), recipe, arm == "selected",
                             0.4 if args.tiny else 0.1)  # tiny: enough validation words to fit a calibration
            arms[arm] |= {"version": str(len(arms) + 1), "order": order, "auto_accept": threshold if auto else None,
                          "auto_accepted": json.loads((batch / "batch.json").read_text())["auto_accepted"]}
        versions = registry(work)
        ece, coverage = ({}, {}) if "selected" not in arms else calibration(
            work, *calibration_sets(args.data, root, audit), root / "loop-selected")
    finally:
        if tmp is not None:
            tmp.cleanup()
    prec = versions["1"]["precision"] or "int8"
    acc = {"production": versions["1"][f"acc_{prec}"]} | {a: versions[arms[a]["version"]][f"acc_{prec}"] for a in arms}
    gains = {a: acc[a] - acc["production"] for a in arms}
    result = {"drift": drift, "gain": gains.get("selected"), "random_gain": gains.get("random"),
              "gains": gains, "ece": ece, "coverage_at_precision": {"target": 0.99, **coverage},
              "held_back": {"count": len(held_rows), "precision": prec, "accuracy": acc},
              "calibration_after_loop": {a: arms[a]["calibration"] for a in arms}, "audit": audit,
              "versions": versions, "latency_batch1": latency, "loop": arms, "steps": steps, "selected": pick,
              "sent": {"synthetic": n, "ic15": n}, "tiny": args.tiny, "minutes": round((time.monotonic() - t0) / 60, 1)}
    bench.write(args.out, result)
    print(f"drift: synthetic alarm={drift['synthetic_window']['alarm']}, IC15 alarm={drift['real_window']['alarm']}")
    print(f"held-back IC15 ({len(held_rows)}, {prec}): production {acc['production']:.4f}; "
          + ", ".join(f"{a} {acc[a]:.4f} ({gains[a]:+.4f})" for a in arms)
          + f"; version 2: {versions['2']['decision']}; logging overhead {100 * latency['overhead']:+.1f}% at batch 1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
