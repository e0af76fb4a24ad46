"""The `hard-example-loop` flow: select -> (human labels) -> fine-tune -> gates -> promote.

Each step is a command of its own, runnable alone (this flow runs them in order, in the project):

    textrec select --n 500 --audit 300 [--auto-accept 0.92]  # the least confident logged images (+ 300 at
                                                 # random: the audit, for validation) -> a labelling batch
    (a human corrects the batch's rec_gt_batch.txt, or labels label_studio.json in Label Studio)
    textrec add-labels BATCH [--labels FILE]     # labelled rows -> data/own (rec_gt_train.txt, rec_gt_val.txt)
    dvc repro                                    # the finetune profile: train from production's weights, ...
    textrec track && textrec register            # the new version, alias challenger
    textrec reference --model-uri models:/NAME/VERSION --data data/lmdb/val   # its monitoring reference
    textrec promote                              # the gates decide; production moves if all pass

Without ``labels`` the flow selects, then waits for them (``wait_hours``: Prefect pauses the run; resume it
from the UI or ``prefect flow-run resume`` with the labelled file's path) or, with ``wait_hours: 0``, ends
after writing the batch; run it again with ``batch`` and ``labels`` to go on.

Run once:    python -m pipelines.loop_flow --batch BATCH --labels FILE     (from the project root)
Deployment:  prefect.yaml `hard-example-loop`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from prefect import flow, get_run_logger, pause_flow_run, task
from prefect.input import RunInput

from pipelines.dvc_tasks import dvc_repro, run_logged
from pipelines.registry_tasks import promote_task, register_task, track_task

PROJECT = Path(__file__).resolve().parents[1]


class Labels(RunInput):
    labels: str  # the labelled file: the batch's rec_gt_batch.txt as corrected, or Label Studio's JSON export


def textrec(project: Path, *args: str) -> None:
    run_logged([sys.executable, "-m", "textrec.cli", *args, "--params", str(project / "params.yaml")], project)


@task
def select_task(project: Path, n: int, order: str, seed: int, since: str | None, auto_accept: float | None,
                out: Path, audit: int) -> str:
    textrec(project, "select", "--n", str(n), "--order", order, "--seed", str(seed), "--out", str(out),
            "--audit", str(audit),
            "--root", str(project), *(["--since", since] if since else []),
            *(["--auto-accept", str(auto_accept)] if auto_accept is not None else []))
    return str(out)


@task
def add_labels_task(project: Path, batch: str, labels: str | None, val_fraction: float) -> None:
    textrec(project, "add-labels", batch, "--root", str(project), "--val-fraction", str(val_fraction),
            *(["--labels", labels] if labels else []))


@task
def reference_task(project: Path, model: str, version: str, val: Path) -> None:
    """The new version's monitoring reference: its predictions on its validation set, kept with it."""
    textrec(project, "reference", "--root", str(project), "--model-uri", f"models:/{model}/{version}", "--data",
            str(val))


@flow(name="hard-example-loop", log_prints=True)
def hard_example_loop(n: int = 500, batch: str | None = None, labels: str | None = None, order: str = "confidence",
                      seed: int = 0, since: str | None = None, auto_accept: float | None = None,
                      wait_hours: float = 0.0, promote: bool = True, val_fraction: float = 0.1,
                      project_dir: str | None = None, audit: int = 300) -> dict:
    """One round of the loop in ``project_dir`` (default: this checkout, whose params.yaml is the finetune
    profile). ``batch``: a batch already selected (skips select); ``labels``: its labelled file (None: the
    batch's own rec_gt_batch.txt once a human corrected it, see the module docstring); ``auto_accept``: also
    take the images read with at least this calibrated confidence, as read (``textrec select --auto-accept``);
    ``audit``: this many more at random, labelled too, the new version's validation set (its calibration and
    monitoring reference; ``val_fraction`` is for a batch without one)."""
    from textrec.config import load_params

    log = get_run_logger()
    project = Path(project_dir) if project_dir else PROJECT
    params = load_params(project / "params.yaml")
    if batch is None:
        out = project / Path(params.monitoring.log.path).parent / "batches" / time.strftime("batch-%Y%m%d-%H%M%S")
        batch = select_task(project, n, order, seed, since, auto_accept, out, audit)
        if labels is None and wait_hours <= 0:
            log.info("batch %s written: label it, then run this flow with batch=%s (and labels=<file>)", batch, batch)
            return {"batch": batch, "state": "awaiting labels"}
        if labels is None:
            labels = pause_flow_run(wait_for_input=Labels, timeout=int(wait_hours * 3600)).labels
    add_labels_task(project, batch, labels, val_fraction)
    dvc_repro(project, [])
    runs = track_task(project, list(params.model.backbones))
    version = register_task(project, runs)
    reference_task(project, params.promotion.model_name, version, project / params.paths.split_lmdb("val"))
    decision = promote_task(project, version) if promote else None
    return {"batch": batch, "version": version, "promotion": decision}


def main() -> None:
    ap = argparse.ArgumentParser(description="run one round of the hard-example loop, locally")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--batch")
    ap.add_argument("--labels")
    ap.add_argument("--order", choices=("confidence", "random"), default="confidence")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--since")
    ap.add_argument("--auto-accept", type=float)
    ap.add_argument("--no-promote", action="store_true")
    ap.add_argument("--val-fraction", type=float, default=0.1, help="share of the human-labelled rows for validation")
    ap.add_argument("--project-dir")
    ap.add_argument("--audit", type=int, default=300, help="random images labelled for validation (select --audit)")
    args = ap.parse_args()
    hard_example_loop(args.n, args.batch, args.labels, args.order, args.seed, args.since, args.auto_accept, 0.0,
                      not args.no_promote, args.val_fraction, args.project_dir, args.audit)


if __name__ == "__main__":
    main()
