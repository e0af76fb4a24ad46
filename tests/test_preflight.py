"""Stages fail at once, with one ``<stage>: error:`` line, on bad params or unwritable outputs."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.scripts_kit import load_script
from textrec.config import PathsConfig
from textrec.preflight import require_writable, write_problem

REPO = Path(__file__).resolve().parents[1]
STAGES = {"download": [], "prepare": [], "validate": [], "train": ["--backbone", "mobilenet_v3"],
          "evaluate": ["--backbone", "mobilenet_v3", "--bench", "synth_IIIT5K"],
          "export": ["--backbone", "mobilenet_v3"], "quantize": ["--backbone", "mobilenet_v3"], "report": []}


def _run_stage(name: str, params: dict, cwd: Path) -> subprocess.CompletedProcess:
    (cwd / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py"), *STAGES[name]], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _blocked_paths(tmp: Path) -> dict:
    """Every output path below a regular file: not creatable, whoever runs the test (root included)."""
    (tmp / "blocker").write_text("a file, not a directory")
    return {f.name: str(tmp / "blocker" / f.name) for f in dataclasses.fields(PathsConfig)}


def test_write_problem(tmp_path):
    assert write_problem(tmp_path / "a" / "b") is None and (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == []  # the probe is gone
    (tmp_path / "f").write_text("x")
    assert "Not a directory" in write_problem(tmp_path / "f" / "models")
    assert "File exists" in write_problem(tmp_path / "f")
    with pytest.raises(SystemExit, match=r"^train: error: cannot write output directory .*/f/m: Not a direc"):
        require_writable("train", tmp_path / "ok", tmp_path / "f" / "m")


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_with_out_of_range_param_fails_in_one_line(tmp_path, stage):
    r = _run_stage(stage, {"train": {"mobilenet_v3": {"lr": -1}}}, tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [
        f"{stage}: error: params.yaml: params.train.mobilenet_v3.lr: -1 is out of range, must be > 0"]
    assert list(tmp_path.iterdir()) == [tmp_path / "params.yaml"]  # nothing done


@pytest.mark.parametrize("stage", list(STAGES))
def test_stage_with_unwritable_outputs_fails_in_one_line(tmp_path, stage):
    r = _run_stage(stage, {"paths": _blocked_paths(tmp_path)}, tmp_path)
    assert r.returncode == 1
    [line] = r.stderr.splitlines()
    assert line.startswith(f"{stage}: error: cannot write output directory {tmp_path}/blocker/")
    assert "Not a directory" in line and "Make it writable" in line


def _train_stage(monkeypatch):
    module = load_script("stages/train.py")

    def no_training(*args, **kwargs):
        raise AssertionError("training started although its outputs cannot be written")

    monkeypatch.setattr(module, "train", no_training)
    return module.main


def test_train_refuses_unwritable_models_dir_before_training(tmp_path, monkeypatch):
    main = _train_stage(monkeypatch)
    (tmp_path / "models").write_text("a file where the models directory should be")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"paths": {k: str(tmp_path / k) for k in (
        "lmdb", "models", "reports")}, "train": {"mobilenet_v3": {"processes": 1}}}))
    out = tmp_path / "models" / "mobilenet_v3"
    message = f"train: error: cannot write output directory {out}: Not a directory"
    with pytest.raises(SystemExit, match=re.escape(message)):
        main(["--backbone", "mobilenet_v3", "--params", str(tmp_path / "params.yaml")])


def test_train_refuses_read_only_models_dir_before_training(tmp_path, monkeypatch):
    main = _train_stage(monkeypatch)
    out = tmp_path / "models" / "mobilenet_v3"
    out.mkdir(parents=True)
    out.chmod(0o555)
    try:
        try:  # root (and CAP_DAC_OVERRIDE) writes through the mode bits: nothing to test then
            (out / "probe").write_text("x")
        except PermissionError:
            pass
        else:
            pytest.skip(f"uid {os.geteuid()} can write into a 0555 directory; see the not-a-directory test")
        (tmp_path / "params.yaml").write_text(yaml.safe_dump({"paths": {k: str(tmp_path / k) for k in (
            "lmdb", "models", "reports")}, "train": {"mobilenet_v3": {"processes": 1}}}))
        message = f"train: error: cannot write output directory {out}: Permission denied"
        with pytest.raises(SystemExit, match=re.escape(message)):
            main(["--backbone", "mobilenet_v3", "--params", str(tmp_path / "params.yaml")])
    finally:
        out.chmod(0o755)


def test_train_before_prepare_fails_in_one_line(tmp_path):
    """No LMDB yet (stages/train.py run by hand before `prepare`): one line, not the dataset's traceback."""
    r = _run_stage("train", {"train": {"mobilenet_v3": {"processes": 1}}}, tmp_path)
    assert r.returncode == 1
    assert r.stderr.splitlines() == ["train: error: no LMDB in data/lmdb/train or data/lmdb/val: run `dvc repro "
                                     "prepare` first (it writes data/lmdb/train and val)"]
    assert not (tmp_path / "models" / "mobilenet_v3" / "latest.pdparams").exists()
