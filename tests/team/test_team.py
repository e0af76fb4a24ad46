"""The team stack end to end, in order, around the one tiny pipeline run of conftest.py's `team` fixture:
`services.sh up`; prefect.yaml's `team` deployment (the crnn-pipeline flow, as shipped but for its cron
schedule) run by a worker of checkout `a` on the tiny profile, tracked to the MLflow server on PostgreSQL with
its artifacts in the shared store, registered and promoted; `dvc push`, checkout `b` = `git clone` + `dvc pull`
with nothing to re-run; 4 runs at once on the two workers, one at a time in each checkout (a minute more on
2 cores: `pytest -m slow`); a worker killed mid-run, its run completed by the other (so both workers run);
`services.sh down` (no process left) and `up`: runs, versions, aliases and artifacts still there. Later
tests use what earlier ones made, so they run in this order."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from pathlib import Path

import pytest

from bench.servers import free_port
from tests.pipeline.project import dvc
from tests.team import mlflow_view as mlf
from tests.team.checkouts import (
    flow_runs,
    new_run,
    repro_checkouts,
    run_logs,
    state_names,
    stop_worker,
    wait_for,
)
from tests.team.stack import processes_of, still_running

# the first test also starts the stack and runs the tiny pipeline (~3-10 min on 2 shared cores)
pytestmark = [pytest.mark.servers, pytest.mark.timeout(2700)]
BACKBONES = ("mobilenet_v3",)  # the checkouts' profile (checkouts.first_checkout)
# what DVC's `repro` prints for a stage it executes (not for one that "didn't change")
RAN = "Running stage '"


def _later_runs(team, n: int) -> list[str]:
    """``n`` runs of the `team` deployment at once, as its schedule would make them."""
    return [new_run(team.stack, team.deployment) for _ in range(n)]


def _sha256(root: Path) -> dict[str, str]:
    """sha256 of every file DVC manages under models/, exported/ and data/lmdb/, by relative path."""
    files = sorted(p for d in ("models", "exported", "data/lmdb") for p in (root / d).rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_a_tiny_pipeline_run_on_a_worker_is_tracked_registered_and_promoted_on_the_server(team):
    stack, a = team.stack, team.a
    log = run_logs(stack, team.first_run)
    assert set(repro_checkouts(log)) == {a}, "the run did not start in its worker's checkout"
    ran = "\n".join(m for m in log if RAN in m)
    for bb in BACKBONES:  # every stage ran, here
        assert f"{RAN}train@{bb}'" in ran and f"{RAN}quantize@{bb}'" in ran, ran
        assert (a / "exported" / bb / "model_int8.onnx").stat().st_size

    production = mlf.aliases(stack)
    assert set(production) == {"challenger", "production"} and production["challenger"] == production["production"]
    version = mlf.versions(stack)[production["production"]]
    runs = mlf.runs(stack, mlf.tags(version)["pipeline_run_id"])
    assert sorted(mlf.tags(r)["backbone"] for r in runs.values()) == list(BACKBONES)
    assert version["run_id"] in runs
    # the server's backend store is the PostgreSQL database
    in_db = {r for (r,) in mlf.postgres(stack, "SELECT run_uuid FROM runs")}
    assert set(runs) <= in_db
    assert {x for (x,) in mlf.postgres(stack, "SELECT alias FROM registered_model_aliases")} == set(production)
    for run_id, run in runs.items():
        # the train stage logged its curve live to the server (the worker's MLFLOW_TRACKING_URI)
        assert mlf.steps_logged(stack, mlf.tags(run)["train_run_id"], "train/loss")
        # the artifacts are in the shared store, as the server serves them
        (charset,) = Path(stack.settings["TEXTREC_ARTIFACTS"]).rglob(f"{run_id}/artifacts/charset/dict.txt")
        assert mlf.artifact(stack, run_id, "charset/dict.txt") == charset.read_bytes()


def test_a_second_clone_pulls_every_output_and_has_nothing_to_rerun(team, second_clone):
    a, b = team.a, second_clone
    assert any(team.remote.rglob("*")), "dvc push stored nothing in the remote"
    assert _sha256(b) == _sha256(a) and _sha256(a)
    assert json.loads(dvc(["status", "--json"], b).stdout) == {}

    # a remote that cannot be reached: DVC's own error naming its address, within seconds, no traceback
    port = free_port()
    dvc(["remote", "add", "--local", "dead", f"http://127.0.0.1:{port}/store"], a)
    t0 = time.monotonic()
    proc = dvc(["push", "-r", "dead"], a, check=False, timeout=300)
    assert proc.returncode != 0 and time.monotonic() - t0 < 120
    assert "ERROR: failed to transfer" in proc.stderr and f"Cannot connect to host 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def _span(run: dict) -> tuple[datetime, datetime]:
    return datetime.fromisoformat(run["start_time"]), datetime.fromisoformat(run["end_time"])


@pytest.mark.slow
def test_four_runs_are_shared_by_both_workers_one_at_a_time_in_each_checkout(team, second_clone):
    stack = team.stack
    team.start_worker(second_clone)
    before = set(mlf.versions(stack))
    ids = _later_runs(team, 4)
    runs = team.wait_completed(ids, 1500)

    spans: dict[Path, list[tuple[datetime, datetime]]] = {}
    for run_id in ids:
        log = run_logs(stack, run_id)
        (checkout,) = set(repro_checkouts(log))  # every stage of a run in one checkout
        assert not [m for m in log if RAN in m], f"run {run_id} in {checkout} re-ran a stage"
        spans.setdefault(checkout, []).append(_span(runs[run_id]))
    assert set(spans) == {team.a, second_clone}  # distributed over both
    for checkout, ss in spans.items():
        ss.sort()
        assert all(s1[1] <= s2[0] for s1, s2 in zip(ss, ss[1:], strict=False)), f"overlap in {checkout}: {ss}"
    # each run tracked, registered and judged for promotion
    new = {v: mlf.tags(mlf.versions(stack)[v]) for v in set(mlf.versions(stack)) - before}
    assert len(new) == 4 and len({t["pipeline_run_id"] for t in new.values()}) == 4
    assert all(t.get("promotion.decision") in ("promoted", "refused") for t in new.values()), new


def test_a_run_whose_worker_is_killed_completes_on_the_other_worker(team, second_clone):
    stack = team.stack
    team.start_worker(second_clone)  # if the test before did not
    (run,) = _later_runs(team, 1)
    wait_for("the run's first dvc repro", lambda: repro_checkouts(run_logs(stack, run)), 600, team.logs)
    lost = repro_checkouts(run_logs(stack, run))[0]
    (other,) = {team.a, second_clone} - {lost}
    stop_worker(team.workers.pop(lost))  # SIGKILL to its whole process tree: a machine gone, mid-run
    t_kill = time.monotonic()

    # meanwhile (the automation waits out the heartbeats): the killed checkout's DVC state is sound,
    # nothing complete is re-run there
    assert json.loads(dvc(["status", "--json"], lost).stdout) == {}
    assert RAN not in dvc(["repro"], lost).stdout

    team.wait_completed([run], 900)
    print(f"\nlost run completed {time.monotonic() - t_kill:.0f} s after the kill")
    assert "AwaitingRetry" in state_names(stack, run)  # the lost-run automation scheduled it again
    where = repro_checkouts(run_logs(stack, run))
    assert where[0] == lost and where[-1] == other and set(where) == {lost, other}
    assert flow_runs(stack, [run])[run]["run_count"] >= 2


def test_runs_versions_and_aliases_survive_down_and_up(team):
    stack = team.stack
    team.stop_workers()  # not part of the stack: `down` does not stop them
    runs, versions, aliases = set(mlf.runs(stack)), mlf.versions(stack), mlf.aliases(stack)
    production = versions[aliases["production"]]["run_id"]
    charset = mlf.artifact(stack, production, "charset/dict.txt")

    procs = processes_of(f"TEXTREC_SERVICES_DIR={stack.settings['TEXTREC_SERVICES_DIR']}")
    assert len(procs) >= 3  # postgres, mlflow, prefect and their children
    stack.sh("down")
    assert still_running(procs) == set()
    assert "stopped" in stack.sh("status", check=False).stdout

    stack.sh("up")
    assert set(mlf.runs(stack)) == runs
    assert {v: x["run_id"] for v, x in mlf.versions(stack).items()} == {v: x["run_id"] for v, x in versions.items()}
    assert mlf.aliases(stack) == aliases
    assert mlf.artifact(stack, production, "charset/dict.txt") == charset  # from the shared store
    # the CLI against the restarted server reads the challenger it kept
    promoted = mlf.textrec(["promote"], team.a, stack)
    assert f"{mlf.MODEL} version {aliases['challenger']}: " in promoted, promoted
