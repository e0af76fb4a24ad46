"""Time to accuracy: how many training images (and minutes, on this CPU) a recipe needs before the synthetic
validation accuracy first reaches 5%, 25% and 50%, training from scratch on the embedded data.

Each run is the real train stage (`stages/train.py`, data-parallel ranks and all) on a copy of the params with
the recipe under test, its own output folders in a temporary directory, and validation every --eval-every
steps; the run is stopped once the highest threshold is reached or --max-images have been seen (the recipe's
own schedule is never shortened, so the curve up to the stop is exactly the recipe's).

    .venv/bin/python bench/time_to_accuracy.py                        # baseline and frames, data/lmdb
    .venv/bin/python bench/time_to_accuracy.py --run frames --run 'lr1e-3=frames:lr=0.001'
    .venv/bin/python bench/time_to_accuracy.py --run pretrain --data <pretrain's data/lmdb> --eval-every 125
    # -> reports/bench/time_to_accuracy.json {"schema_version", "machine", "runs": [{"recipe", "images_to",
    #    "minutes_to", "curve": [[images, val_accuracy], ...], "loss": [[images, loss], ...], "machine", ...}]}

`baseline` is the demo recipe of b746339 (CTC alone); `frames` the from-scratch recipe with per-frame
supervision that the demo used before it started from the bundled model (14bb620); `pretrain` the `pretrain`
profile's. Every run starts from scratch (`init: scratch`), whatever the recipe says. A run NAME=BASE:k=v;k=v
takes BASE's recipe with dotted keys (inside `train.<backbone>`) replaced, e.g. `frame_loss.weight=0`. Runs
are merged into the JSON by name: a run replaces its earlier result, the others are kept. Each run carries
its own machine record (bench/harness.py: the load around that run), the top-level one covers this call.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder
from overrides import set_dotted  # bench/, on sys.path as the script's folder

THRESHOLDS = (0.05, 0.25, 0.5)
# The demo recipe before per-frame supervision (b746339), minus its 15-minute time budget.
BASELINE = {"epochs": 20, "max_steps": 2300, "batch_size": 64, "lr": 0.001,
            "optimizer": {"beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0, "grad_clip_norm": 5.0},
            "schedule": {"name": "cosine", "warmup_steps": 200, "min_lr_ratio": 0.2},
            "curriculum": {"steps": 1500, "start_max_len": 4}, "processes": 2,
            "frame_loss": {"weight": 0.0, "until_step": 0}}
# The demo's from-scratch MobileNetV3 recipe with per-frame supervision (14bb620, README "How the recipes were
# chosen"), minus its safety time budget.
FRAMES = {"epochs": 20, "max_steps": 2100, "batch_size": 32, "lr": 0.002,
          "optimizer": {"beta1": 0.9, "beta2": 0.999, "weight_decay": 0.0, "grad_clip_norm": 5.0},
          "schedule": {"name": "cosine", "warmup_steps": 100, "min_lr_ratio": 0.2},
          "frame_loss": {"weight": 10.0, "until_step": 1500, "ignore_radius": 1}, "processes": 2}
BASES = ("baseline", "frames", "pretrain")


def parse_run(spec: str) -> tuple[str, str, dict[str, str]]:
    """'name=base:k=v;k=v' | 'base' -> (name, base, overrides)."""
    name, _, rest = spec.partition("=") if "=" in spec.split(":")[0] else (spec, "", spec)
    base, _, kv = rest.partition(":")
    overrides = dict(item.split("=", 1) for item in kv.split(";") if item)
    if base not in BASES:
        raise SystemExit(f"--run {spec!r}: the base recipe must be one of {', '.join(BASES)}")
    return name, base, overrides


def recipe_for(params: dict, backbone: str, base: str, overrides: dict[str, str]) -> dict:
    recipe = copy.deepcopy(params["train"][backbone])
    if base == "pretrain":
        from textrec.profiles import compose

        profile = compose("pretrain", REPO)  # profiles/base.yaml + profiles/pretrain.yaml
        recipe = recipe | copy.deepcopy(profile["train"][backbone])
    else:
        fixed = BASELINE if base == "baseline" else FRAMES
        recipe = {k: v for k, v in recipe.items() if k not in fixed} | copy.deepcopy(fixed)
    recipe |= {"init": "scratch", "init_sha256": None}  # time to accuracy from scratch, whatever params say
    for key, value in overrides.items():
        set_dotted(recipe, key, value)
    return recipe


def read_log(path: Path, batch: int) -> tuple[list[list[float]], list[list[float]]]:
    """(val curve [[images, acc]], loss at the same steps [[images, loss]]) from a train_log.csv."""
    if not path.exists():
        return [], []
    curve, loss = [], []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("val_accuracy"):
                images = int(row["step"]) * batch
                curve.append([images, float(row["val_accuracy"])])
                loss.append([images, float(row["loss"])])
    return curve, loss


def run_one(name: str, recipe: dict, params: dict, backbone: str, data: Path, eval_every: int,
            max_images: int, workdir: Path) -> dict:
    recipe = recipe | {"eval_every_steps": eval_every, "time_budget_minutes": None}
    p = copy.deepcopy(params)
    p["train"][backbone] = recipe
    p["paths"] = p["paths"] | {"lmdb": str(data), "models": str(workdir / "models"),
                               "reports": str(workdir / "reports")}
    params_file = workdir / "params.yaml"
    params_file.write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    log_csv = workdir / "reports" / "train" / backbone / "train_log.csv"
    cmd = [sys.executable, str(REPO / "stages" / "train.py"), "--backbone", backbone, "--params", str(params_file),
           "--fresh", "--no-progress"]
    # a SIGTERM to this script must still stop the training ranks (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.monotonic()
    minutes_to: dict[str, float | None] = {str(t): None for t in THRESHOLDS}
    seen = 0
    with (workdir / "train.out").open("w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while proc.poll() is None:
                time.sleep(2)
                curve, _ = read_log(log_csv, recipe["batch_size"])
                for images, acc in curve[seen:]:  # minutes: when the row was first seen (2-s polling)
                    for t in THRESHOLDS:
                        if acc >= t and minutes_to[str(t)] is None:
                            minutes_to[str(t)] = round((time.monotonic() - t0) / 60, 2)
                    print(f"{name}: {images} images, val {acc:.4f}", flush=True)
                seen = len(curve)
                done = minutes_to[str(THRESHOLDS[-1])] is not None
                if done or (curve and curve[-1][0] >= max_images):
                    break
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(60)
    if proc.returncode not in (0, -signal.SIGTERM, None) and not read_log(log_csv, recipe["batch_size"])[0]:
        tail = "\n".join((workdir / "train.out").read_text(errors="replace").splitlines()[-15:])
        raise SystemExit(f"{name}: training failed (exit {proc.returncode}):\n{tail}")
    curve, loss = read_log(log_csv, recipe["batch_size"])
    images_to = {str(t): next((i for i, a in curve if a >= t), None) for t in THRESHOLDS}
    ips = [float(r["images_per_second"]) for r in csv.DictReader(log_csv.open()) if r["images_per_second"]]
    return {"recipe": name, "settings": recipe, "images_to": images_to, "minutes_to": minutes_to,
            "images_per_second_median": sorted(ips)[len(ips) // 2] if ips else None,
            "curve": curve, "loss": loss}


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "time_to_accuracy")
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    ap.add_argument("--data", type=Path, default=REPO / "data" / "lmdb", help="LMDB root with train/ and val/")
    ap.add_argument("--backbone", default="mobilenet_v3")
    ap.add_argument("--run", action="append", help="recipe to run (repeatable); default: baseline, frames")
    ap.add_argument("--eval-every", type=int, default=25, help="validate every N steps")
    ap.add_argument("--max-images", type=int, default=160_000)
    args = ap.parse_args(argv)
    if not (args.data / "train").is_dir() or not (args.data / "val").is_dir():
        print(f"error: {args.data}: no train/ and val/ LMDBs; run `dvc repro prepare` first", file=sys.stderr)
        return 2
    bench = Bench.start()
    params = yaml.safe_load(args.params.read_text(encoding="utf-8"))
    earlier = json.loads(args.out.read_text(encoding="utf-8"))["runs"] if args.out.exists() else []
    runs: list[dict] = []
    for spec in args.run or ["baseline", "frames"]:
        name, base, overrides = parse_run(spec)
        recipe = recipe_for(params, args.backbone, base, overrides)
        this_run = Bench.start()
        with tempfile.TemporaryDirectory(prefix=f"textrec-tta-{name}-") as tmp:
            r = run_one(name, recipe, params, args.backbone, args.data.resolve(), args.eval_every,
                        args.max_images, Path(tmp))
        runs.append(r | {"data": str(args.data), "machine": this_run.machine()})  # each run: its data, machine
        print(f"{name}: images to {r['images_to']}, minutes to {r['minutes_to']}", flush=True)
        kept = [r for r in earlier if r["recipe"] not in {r["recipe"] for r in runs}]
        # after every run: a long benchmark keeps its results
        bench.write(args.out, {"backbone": args.backbone, "runs": kept + runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
