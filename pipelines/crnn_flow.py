"""The `crnn-pipeline` flow: the DVC stages in order, then MLflow tracking, registration and promotion.

Run once:          python -m pipelines.crnn_flow --profile tiny   (from the project root; params.yaml is put back)
Deployment:        see prefect.yaml and the README (`prefect deployment run 'crnn-pipeline/nightly'`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger

from pipelines.dvc_tasks import dvc_repro, dvc_repro_download, profile_for_this_run
from pipelines.registry_tasks import promote_task, register_task, track_task
from textrec.config import BACKBONES, PROFILES

PROJECT = Path(__file__).resolve().parents[1]


@flow(name="crnn-pipeline", log_prints=True)
def crnn_pipeline(profile: str | None = None, backbones: list[str] | None = None, promote: bool = False,
                  project_dir: str | None = None) -> dict:
    """Reproduce the pipeline, track both backbones in MLflow, register the best as `challenger`, and promote
    it to `production` when ``promote`` and every gate passes. ``profile``: params.yaml composed from that
    profile for this run only (the checkout's params.yaml is put back afterwards); None runs params.yaml as it
    is."""
    log = get_run_logger()
    project = Path(project_dir) if project_dir else PROJECT
    with profile_for_this_run(project, profile, log):
        return _run(project, backbones, promote, log)


def _run(project: Path, backbones: list[str] | None, promote: bool, log) -> dict:
    from textrec.config import load_params

    params = load_params(project / "params.yaml")
    all_bbs = list(params.model.backbones)
    bbs = backbones or all_bbs
    unknown = sorted(set(bbs) - set(all_bbs))
    if unknown:
        raise ValueError(f"backbones {unknown} are not in params.yaml model.backbones {all_bbs}")

    dvc_repro_download(project, ["download"])
    dvc_repro(project, ["prepare"])
    dvc_repro(project, ["validate"])
    for bb in bbs:
        dvc_repro(project, [f"train@{bb}"])
        dvc_repro(project, [f"evaluate@{bb}-{bench}" for bench in params.eval.benchmarks])
        dvc_repro(project, [f"export@{bb}", f"quantize@{bb}"])
    if set(bbs) == set(all_bbs):
        dvc_repro(project, ["report"])
    else:
        log.info("report skipped: it covers all of %s, this run trained %s", all_bbs, bbs)

    runs = track_task(project, bbs)
    version = register_task(project, runs)
    decision = promote_task(project, version) if promote else None
    return {"runs": runs, "version": version, "promotion": decision}


def main() -> None:
    ap = argparse.ArgumentParser(description="run the crnn-pipeline flow once, locally")
    ap.add_argument("--profile", choices=PROFILES)
    ap.add_argument("--backbone", action="append", dest="backbones", choices=BACKBONES)
    ap.add_argument("--promote", action="store_true")
    args = ap.parse_args()
    crnn_pipeline(profile=args.profile, backbones=args.backbones, promote=args.promote)


if __name__ == "__main__":
    main()
