"""The scaling curve: accuracy of one pretraining run against the synthetic images it has seen.

Reads a run's directory (``models/<backbone>`` of the ``pretrain`` profile): the weight snapshots its recipe
keeps (``keep_steps`` -> ``snapshots/step_<N>.pdparams``) and ``best.pdparams``, the trainer state (wall
time and CPU of every invocation) and the training log (validation accuracy at each evaluation). Each point
is read on the real development sets by bench/real_dev.py's own loading and scoring (DTRB and exact
protocols). The points come from one cosine run, so an early point is measured at a higher learning rate
than a run of that length would end with: the curve is a lower bound of what shorter runs reach.

    .venv/bin/python bench/scaling.py --run ../pretrain/models/mobilenet_v3 \\
        --log ../pretrain/reports/train/mobilenet_v3/train_log.csv
    # -> reports/bench/scaling.json {"schema_version", "machine", "run", "points": [...]} and reports/bench/scaling.svg
"""

from __future__ import annotations

import csv
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from harness import Bench, parser  # bench/, the script's folder
from real_dev import (  # bench/, the script's folder
    DEFAULT_DATA,
    load_real_sets,
    predict_ours,
    run_model,
)

SNAPSHOT = re.compile(r"step_(\d+)\.pdparams")


def hours_at(segments: list[dict], step: int) -> float:
    """Training hours spent up to ``step``: each invocation's time, pro rata for the one ``step`` falls in."""
    total = 0.0
    for seg in segments:
        lo, hi, secs = seg["from_step"], seg["to_step"], seg["seconds"]
        if hi > lo and step > lo:
            total += secs * min(1.0, (step - lo) / (hi - lo))
    return total / 3600


def val_at(log: Path, step: int) -> float | None:
    """The validation accuracy logged at ``step`` (None when that step was not evaluated)."""
    with log.open(newline="") as f:
        for row in csv.DictReader(f):
            if int(row["step"]) == step and row.get("val_accuracy"):
                return float(row["val_accuracy"])
    return None


def checkpoints(run: Path, with_best: bool = True) -> list[tuple[int, Path]]:
    """(step, file) of every snapshot, then (``with_best``) best.pdparams at its recorded step."""
    found = sorted((int(m.group(1)), p) for p in (run / "snapshots").glob("step_*.pdparams")
                   if (m := SNAPSHOT.fullmatch(p.name)))
    best_file = run / "best.state.json"
    best = json.loads(best_file.read_text()) if with_best and best_file.is_file() else None
    if best and best.get("best_step") and all(s != best["best_step"] for s, _ in found):
        found.append((int(best["best_step"]), run / "best.pdparams"))
    return sorted(found)


def earlier_points(out: Path, recipe: dict) -> dict[int, dict]:
    """The points of an earlier ``out`` of the same recipe, by step; none when ``out`` is missing or of
    another recipe."""
    if not out.is_file():
        return {}
    old = json.loads(out.read_text())
    if old.get("run", {}).get("recipe") != recipe:
        return {}
    return {p["step"]: p for p in old["points"]}


def draw(points: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    x = [p["images_seen"] / 1e6 for p in points]
    for name in points[0]["real_dev"]:
        for protocol, style in (("dtrb", "-o"), ("exact", "--s")):
            ax.plot(x, [100 * p["real_dev"][name][protocol] for p in points], style, label=f"{name} {protocol}")
    if all(p["val_accuracy"] is not None for p in points):
        ax.plot(x, [100 * p["val_accuracy"] for p in points], ":^", label="synthetic val (exact)")
    ax.set_xlabel("synthetic images seen (millions)")
    ax.set_ylabel("word accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, "scaling")
    ap.add_argument("--run", type=Path, required=True, help="the run's models/<backbone> directory")
    ap.add_argument("--log", type=Path, required=True, help="its reports/train/<backbone>/train_log.csv")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--fresh", action="store_true",
                    help="forget the points of --out and read every checkpoint again (default: keep those of "
                         "the same recipe whose snapshot is no longer here, a multi-session run on machines that "
                         "do not keep each other's files, or is the same file, by sha256)")
    ap.add_argument("--snapshots-only", action="store_true",
                    help="leave best.pdparams out: a run still going, whose best is not a point of the curve yet")
    args = ap.parse_args(argv)
    for path, what in ((args.data, "real development data"), (args.run / "latest.state.json", "trainer state"),
                       (args.log, "training log")):
        if not path.exists():
            print(f"{path}: {what} not found", file=sys.stderr)
            return 2
    from textrec.hashing import sha256_file
    from textrec.inference.recognizer import Recognizer

    state = json.loads((args.run / "latest.state.json").read_text())
    batch = int(state["recipe"]["batch_size"])
    earlier = {} if args.fresh else earlier_points(args.out, state["recipe"])
    points = []
    bench, t0 = Bench.start(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="textrec-scaling-") as tmp:
        sets = load_real_sets(args.data, Path(tmp), args.processes)
    for step, path in checkpoints(args.run, with_best=not args.snapshots_only):
        sha = sha256_file(path)
        if earlier.get(step, {}).get("checkpoint_sha256") == sha:  # these very weights were read before
            points.append(earlier[step])
            print(f"step {step}: kept (the same checkpoint, measured {earlier[step]['measured_at']})")
            continue
        rec = Recognizer(path)  # its dictionary beside it (<stem>.dict.txt)
        real = run_model(sets, lambda images, rec=rec: predict_ours(rec, images))
        points.append({"step": step, "images_seen": step * batch, "checkpoint": path.name, "checkpoint_sha256": sha,
                       "val_accuracy": val_at(args.log, step), "hours": round(hours_at(state["segments"], step), 5),
                       "cpu": sorted({s["cpu"] for s in state["segments"] if s["from_step"] < step}),
                       "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "measured_on": bench.record().cpu,
                       "real_dev": {d["name"]: {"dtrb": d["accuracy"], "exact": d["exact_accuracy"], "count": d["count"]}
                                    for d in real["datasets"]}})
        print(f"step {step} ({step * batch:,} images): " + ", ".join(
            f"{n} {v['dtrb']:.3f} / exact {v['exact']:.3f}" for n, v in points[-1]["real_dev"].items()))
    if not points:
        print(f"{args.run}: no snapshots/step_*.pdparams nor best.pdparams", file=sys.stderr)
        return 2
    # an earlier point whose snapshot is not here (it stayed on another machine) stays in the curve
    measured = {p["step"] for p in points}
    points = sorted(points + [p for s, p in earlier.items() if s not in measured], key=lambda p: p["step"])
    result = {"run": {"dir": str(args.run), "recipe": state["recipe"],
                                                 "steps_done": state["step"], "finished": state["finished"]},
              "note": "points of one cosine run: an early point is read at a higher lr than a run of that "
                      "length ends with", "points": points, "seconds": round(time.perf_counter() - t0, 1),
              "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    bench.write(args.out, result)
    draw(points, args.out.with_suffix(".svg"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
