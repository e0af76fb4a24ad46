"""Fine-tuning on real crops: the bundled model trained further on real word images, measured on held-back ones.

Splits each real-dev set (../shared/data/real-dev: IIIT5K train, IC15 train) in its file order: the first
80% is the user's data (its first nine tenths train, the last tenth is the validation set that picks the
checkpoint), the last 20% is held back and only evaluated. It then runs the `finetune` profile's own stages
(prepare, train, evaluate) on that data in a temporary folder: the images are only read from where they are
(label files point at them), never copied into the repository. The evaluate stage measures the trained
model and, on the same images, the checkpoint it started from ("before").

    .venv/bin/python bench/finetune_real.py                     # the finetune profile's recipe
    .venv/bin/python bench/finetune_real.py --steps 1500 --set train.mobilenet_v3.lr=0.001
    # -> reports/bench/finetune.json {"schema_version", "machine", "init", "steps", "minutes", "held_back": [{"name", "count",
    #    "accuracy"}], "before": [...], "synthetic": {...}, "settings": {...}}

The fine-tuned model is not bundled and not kept (--keep DIR keeps the work folder).
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from harness import REPO, Bench, parser  # bench/, on sys.path as the script's folder
from overrides import set_dotted  # bench/, on sys.path as the script's folder

SETS = {"IIIT5k_train_2000": "IIIT5K", "IC15_train_4468": "IC15"}  # folder -> benchmark suffix
SPLITS = ("train", "val", "test")


def split_rows(rows: list[str], train_fraction: float = 0.8, val_fraction: float = 0.1) -> dict[str, list[str]]:
    """File order: the first ``train_fraction`` is the user's (its last ``val_fraction`` validates), the
    rest is held back."""
    cut = round(len(rows) * train_fraction)
    val_cut = cut - round(cut * val_fraction)
    return {"train": rows[:val_cut], "val": rows[val_cut:cut], "test": rows[cut:]}


def write_label_files(data: Path, own: Path) -> dict[str, dict[str, int]]:
    """PaddleOCR label files under ``own`` whose paths point at the real-dev images; returns the row counts."""
    counts = {}
    for folder, short in SETS.items():
        rows = [line for line in (data / folder / "labels.tsv").read_text(encoding="utf-8").splitlines() if line]
        (own / short).symlink_to((data / folder).resolve(), target_is_directory=True)
        parts = split_rows(rows)
        for split, lines in parts.items():
            (own / f"{short}_{split}.txt").write_text("".join(f"{short}/{ln}\n" for ln in lines), encoding="utf-8")
        counts[short] = {split: len(lines) for split, lines in parts.items()}
    return counts


def bench_params(profile: dict, work: Path, steps: int | None, overrides: list[str], synthetic: bool) -> dict:
    p = copy.deepcopy(profile)
    p["paths"] = {k: str(work / k) for k in p["paths"]}
    p["data"]["folder"] = {
        "root": str(work / "own"),
        "train": [{"src": f"{s}_train.txt", "format": "paddleocr"} for s in SETS.values()],
        "val": [{"src": f"{s}_val.txt", "format": "paddleocr"} for s in SETS.values()],
        "test": [{"src": f"{s}_test.txt", "format": "paddleocr", "name": f"heldback_{s}"} for s in SETS.values()]}
    synth = [b for b in p["eval"]["benchmarks"] if b.startswith("synth_")] if synthetic else []
    p["eval"]["benchmarks"] = [f"heldback_{s}" for s in SETS.values()] + synth
    recipe = p["train"]["mobilenet_v3"]
    recipe["time_budget_minutes"] = None  # the steps decide
    if steps is not None:
        recipe["max_steps"] = steps
    for item in overrides:  # dotted.key=value
        key, _, value = item.partition("=")
        set_dotted(p, key, value)
    return p


def run_stage(work: Path, script: str, *args: str) -> None:
    cmd = [sys.executable, str(REPO / "stages" / script), "--params", str(work / "params.yaml"), *args]
    with (work / "stages.log").open("a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        done = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        tail = "\n".join((work / "stages.log").read_text(errors="replace").splitlines()[-20:])
        raise SystemExit(f"{script} {' '.join(args)} failed (exit {done.returncode}):\n{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "finetune")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "real-dev")
    ap.add_argument("--steps", type=int, default=None, help="max_steps (default: the finetune profile's)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a params key")
    ap.add_argument("--no-synthetic", action="store_true", help="skip the synthetic suite (forgetting)")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = ap.parse_args(argv)
    if not all((args.data / folder / "labels.tsv").is_file() for folder in SETS):
        print(f"error: {args.data}: needs {', '.join(f'{f}/labels.tsv' for f in SETS)}", file=sys.stderr)
        return 2
    bench = Bench.start()
    from textrec.profiles import compose

    profile = compose("finetune", REPO)  # profiles/base.yaml + profiles/finetune.yaml
    tmp = None if args.keep else tempfile.TemporaryDirectory(prefix="textrec-finetune-")
    work = (args.keep or Path(tmp.name)).resolve()
    try:
        if args.keep and work.exists():
            shutil.rmtree(work)
        (work / "own").mkdir(parents=True)
        counts = write_label_files(args.data, work / "own")
        params = bench_params(profile, work, args.steps, args.set, not args.no_synthetic)
        (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
        run_stage(work, "prepare.py", "--no-progress")
        t0 = time.monotonic()
        run_stage(work, "train.py", "--backbone", "mobilenet_v3", "--fresh", "--no-progress")
        minutes = round((time.monotonic() - t0) / 60, 1)
        for bench in params["eval"]["benchmarks"]:
            run_stage(work, "evaluate.py", "--backbone", "mobilenet_v3", "--bench", bench, "--no-progress")
        evals = {b: json.loads((work / "reports" / "eval" / "mobilenet_v3" / f"{b}.json").read_text())
                 for b in params["eval"]["benchmarks"]}
        train = json.loads((work / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    finally:
        if tmp is not None:
            tmp.cleanup()

    def rows(names: list[str], before: bool) -> list[dict]:
        pick = (lambda e: e["start"]) if before else (lambda e: e)
        return [{"name": n, "count": pick(evals[n])["count"], "accuracy": pick(evals[n])["accuracy"]} for n in names]

    held = [b for b in evals if b.startswith("heldback_")]
    synth = [b for b in evals if b.startswith("synth_")]
    result = {"init": train.get("init"), "steps": train["steps"],
              "images_seen": train.get("images_seen"), "minutes": minutes, "split": counts,
              "held_back": rows(held, False), "before": rows(held, True),
              "synthetic": {"after": rows(synth, False), "before": rows(synth, True)} if synth else None,
              "best_step": train.get("best_step"), "settings": params["train"]["mobilenet_v3"]}
    machine = bench.write(args.out, result)["machine"]
    for after, before in zip(result["held_back"], result["before"], strict=True):
        print(f"{after['name']} (n={after['count']}): {before['accuracy']:.4f} before, {after['accuracy']:.4f} after")
    print(f"{result['steps']} steps in {minutes} min on {machine['cpu']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
