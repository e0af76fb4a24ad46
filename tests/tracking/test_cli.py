from __future__ import annotations

from tests.tracking.kit_pipeline import clone_run
from textrec.cli import main


def test_track_register_promote_rollback_with_the_default_project_store(kit_run, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = clone_run(kit_run, tmp_path / "project").parent
    monkeypatch.chdir(root)

    assert main(["track", "--backbone", "mobilenet_v3", "--pipeline-run-id", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert "pipeline run cli-1 -> sqlite:///" in out and "mobilenet_v3: run " in out
    assert (root / "mlflow.db").is_file() and (root / "mlartifacts").is_dir()  # the store is in the project

    assert main(["register"]) == 0  # latest pipeline run
    assert "crnn-text-recognizer version 1 (alias challenger): mobilenet_v3" in capsys.readouterr().out
    assert main(["promote"]) == 0
    out = capsys.readouterr().out
    assert "version 1: promoted (production before: None)" in out and "latency: pass" in out

    assert main(["register", "--pipeline-run-id", "cli-1"]) == 0
    capsys.readouterr()
    assert main(["promote", "--params", str(root / "params.yaml")]) == 0
    assert main(["rollback"]) == 0
    assert "production moved back from version 2 to version 1" in capsys.readouterr().out
    assert main(["rollback"]) == 2
    assert "no earlier production version" in capsys.readouterr().err
    assert main(["promote"]) == 1  # version 2 is still the challenger, but it was rolled back
    out = capsys.readouterr().out
    assert "version 2: refused (production before: 1)" in out and "rolled_back: FAIL" in out
    assert main(["promote", "--allow-rolled-back"]) == 0
    assert "version 2: promoted (production before: 1)" in capsys.readouterr().out
    assert main(["register", "--pipeline-run-id", "nope"]) == 2
    assert "pipeline run 'nope': no run with metric avg_acc_int8" in capsys.readouterr().err
