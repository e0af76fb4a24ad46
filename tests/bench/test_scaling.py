"""bench/scaling.py: every snapshot of a (tiny) run read on real-dev-style folders, at its images seen, with the
wall time its trainer state records and the validation accuracy its log holds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.bench.test_real_dev import _bench, _word_png
from tests.training.wordimages import random_words, write_word_lmdb
from textrec.charset import Charset
from textrec.config.train import RecipeConfig
from textrec.training.trainer import train


def _scaling():
    _bench("real_dev")  # what scaling.py imports from its folder
    return _bench("scaling")


def test_hours_are_counted_pro_rata_over_invocations() -> None:
    scaling = _scaling()
    segments = [{"from_step": 0, "to_step": 100, "seconds": 3600}, {"from_step": 100, "to_step": 300, "seconds": 3600}]
    assert scaling.hours_at(segments, 50) == 0.5
    assert scaling.hours_at(segments, 100) == 1.0
    assert scaling.hours_at(segments, 200) == 1.5
    assert scaling.hours_at(segments, 300) == 2.0


def test_every_snapshot_and_the_best_become_points(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    scaling = _scaling()
    words = write_word_lmdb(tmp_path / "train", random_words(8, np.random.default_rng(1)), seed=2)
    recipe = RecipeConfig(epochs=100, batch_size=4, device="cpu", max_steps=4, lr=1e-3, eval_every_steps=2,
                          log_every_steps=1, checkpoint_every_steps=2, keep_steps=(2, 4))
    run = tmp_path / "run"
    train(recipe, "mobilenet_v3", words, words, run, metrics_csv=tmp_path / "log.csv",
          charset=Charset.from_file("builtin:en"), progress=False)
    folder = tmp_path / "data" / "signs"
    (folder / "images").mkdir(parents=True)
    rows = [("a.png", "EXIT"), ("b.png", "$5")]
    for name, label in rows:
        _word_png(folder / "images" / name, label)
    (folder / "labels.tsv").write_text("".join(f"images/{n}\t{lab}\n" for n, lab in rows), encoding="utf-8")

    out = tmp_path / "scaling.json"
    assert scaling.main(["--run", str(run), "--log", str(tmp_path / "log.csv"), "--data", str(tmp_path / "data"),
                         "--processes", "0", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    steps = [p["step"] for p in result["points"]]
    assert steps[:2] == [2, 4] and set(steps) <= {2, 4}  # best is one of the snapshots' steps here
    for p in result["points"]:
        assert p["images_seen"] == 4 * p["step"] and p["hours"] > 0 and p["val_accuracy"] is not None
        assert set(p["real_dev"]["signs"]) == {"dtrb", "exact", "count"} and p["real_dev"]["signs"]["count"] == 2
    assert result["machine"]["cores"] and out.with_suffix(".svg").read_text().startswith("<?xml")
    assert tuple(result["machine"]) == _bench("harness").MACHINE_KEYS and result["machine"]["load_average"]["end"]

    # a later session on another machine: a snapshot (not the best's step) stayed behind, its point is kept
    gone = ({2, 4} - {json.loads((run / "best.state.json").read_text())["best_step"]}).pop()
    (run / "snapshots" / f"step_{gone}.pdparams").unlink()
    before = {p["step"]: p for p in result["points"]}
    capsys.readouterr()
    assert scaling.main(["--run", str(run), "--log", str(tmp_path / "log.csv"), "--data", str(tmp_path / "data"),
                         "--processes", "0", "--out", str(out)]) == 0
    again = {p["step"]: p for p in json.loads(out.read_text())["points"]}
    assert set(again) == set(before) and again == before
    # the checkpoint still here is the same file (sha256): its point is kept, not read again
    (present,) = {2, 4} - {gone}
    assert f"step {present}: kept (the same checkpoint" in capsys.readouterr().out
    assert scaling.main(["--run", str(run), "--log", str(tmp_path / "log.csv"), "--data", str(tmp_path / "data"),
                         "--processes", "0", "--out", str(out), "--fresh"]) == 0
    assert gone not in {p["step"] for p in json.loads(out.read_text())["points"]}
    assert "kept" not in capsys.readouterr().out  # --fresh reads every checkpoint again


def test_a_run_still_going_leaves_its_best_out_on_request(tmp_path: Path) -> None:
    """--snapshots-only: the best of a run in progress is not a point of the curve yet."""
    scaling = _scaling()
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "step_2.pdparams").write_bytes(b"w")
    (tmp_path / "best.state.json").write_text(json.dumps({"best_step": 3}))
    assert scaling.checkpoints(tmp_path) == [(2, tmp_path / "snapshots" / "step_2.pdparams"),
                                             (3, tmp_path / "best.pdparams")]
    assert scaling.checkpoints(tmp_path, with_best=False) == [(2, tmp_path / "snapshots" / "step_2.pdparams")]
