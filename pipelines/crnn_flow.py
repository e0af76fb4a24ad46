"""The `crnn-pipeline` flow: the DVC stages in order, then MLflow tracking, registration and promotion.

Run once:          python -m pipelines.crnn_flow --profile tiny   (from the project root)
Deployment:        see prefect.yaml and the README (`prefect deployment run 'crnn-pipeline/nightly'`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger

from pipelines.dvc_tasks import apply_profile, dvc_repro, dvc_repro_download
from pipelines.registry_tasks import promote_task, register_task, track_task
from textrec.config import BACKBONES, PROFILES

PROJECT = Path(__file__).resolve().parents[1]


@flow(name="crnn-pipeline", log_prints=True)
def crnn_pipeline(profile: str | None = None, backbones: list[str] | None = None, promote: bool = False,
                  project_dir: str | None = None) -> dict:
    """Reproduce the pipeline for ``profile`` (None keeps params.yaml as it is), track both backbones in
    MLflow, register the best as `challenger`, and promote it to `production` when ``promote`` and every
    gate passes."""
    from textrec.config import load_params

    log = get_run_logger()
    project = Path(project_dir) if project_dir else PROJECT
    if profile:
        apply_profile(project, profile)
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
