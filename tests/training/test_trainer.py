"""The training loop in-process on tiny LMDBs: stop conditions, non-finite losses, auto-resume, learning."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.training.wordimages import random_words, write_word_lmdb
from textrec.config.train import RecipeConfig
from textrec.models.checkpoint import read_params
from textrec.training.trainer import NonFiniteLossError, train

BASE = dict(epochs=1000, batch_size=4, device="cpu", eval_every_steps=0, log_every_steps=1,
            checkpoint_every_steps=1)


@pytest.fixture(scope="module")
def four_words(tmp_path_factory):
    root = tmp_path_factory.mktemp("four")
    return write_word_lmdb(root / "train", random_words(4, np.random.default_rng(11)), seed=3)


def _csv(path):
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _state(out):
    return json.loads((out / "latest.state.json").read_text())


def test_nonfinite_loss_stop_names_the_step_and_skip_leaves_weights_untouched(four_words, tmp_path):
    # lr 1e38: step 1 is finite and throws every weight to ~1e38, so step 2's forward overflows.
    recipe = RecipeConfig(**BASE, max_steps=4, lr=1e38, nan_policy="stop")
    with pytest.raises(NonFiniteLossError, match=r"at step 2 \(epoch 1"):
        train(recipe, "mobilenet_v3", four_words, None, tmp_path / "stop", progress=False)
    assert _state(tmp_path / "stop")["step"] == 1  # the last good checkpoint is left as it was
    after_step1 = read_params(tmp_path / "stop" / "latest.pdparams")

    res = train(RecipeConfig(**{**BASE, "max_steps": 4, "lr": 1e38, "nan_policy": "skip"}), "mobilenet_v3",
                four_words, None, tmp_path / "skip", progress=False)
    assert (res.steps, res.skipped_batches, res.stop_reason) == (4, 3, "max_steps")
    final = read_params(tmp_path / "skip" / "latest.pdparams")
    assert all(np.array_equal(final[k], after_step1[k]) for k in final)  # skipped batches changed nothing
    assert all(np.isfinite(v).all() for v in final.values())
    rows = _csv(tmp_path / "skip" / "train_metrics.csv")
    assert [r["step"] for r in rows] == ["1"]  # skipped batches are logged, not plotted
    assert _state(tmp_path / "skip")["skipped_batches"] == 3


def test_time_budget_stop_checkpoints_and_auto_resume_continues_only_unfinished_runs(four_words, tmp_path):
    out = tmp_path / "run"
    res = train(RecipeConfig(**BASE, max_steps=3, lr=1e-3, time_budget_minutes=0.0), "mobilenet_v3",
                four_words, four_words, out, progress=False)
    assert (res.stop_reason, res.steps, res.resumed_from_step) == ("time_budget", 1, None)
    st = _state(out)
    assert st["finished"] is False and st["step"] == 1 and (out / "best.pdparams").exists()
    # Same recipe except the budget (which does not change the weights): "auto" resumes it.
    res = train(RecipeConfig(**BASE, max_steps=3, lr=1e-3), "mobilenet_v3", four_words, four_words, out,
                resume="auto", progress=False)
    assert (res.stop_reason, res.steps, res.resumed_from_step) == ("max_steps", 3, 1)
    assert _state(out)["finished"] is True
    assert [r["step"] for r in _csv(out / "train_metrics.csv")] == ["1", "2", "3"]
    # A finished run is not resumed, nor is one with another recipe: both start from scratch.
    res = train(RecipeConfig(**BASE, max_steps=2, lr=1e-3), "mobilenet_v3", four_words, None, out,
                resume="auto", progress=False)
    assert (res.resumed_from_step, res.steps) == (None, 2)
    res = train(RecipeConfig(**BASE, max_steps=3, lr=2e-3), "mobilenet_v3", four_words, None, out,
                resume="auto", progress=False)
    assert res.resumed_from_step is None


def test_explicit_resume_without_checkpoint_is_an_error(four_words, tmp_path):
    from textrec.training.checkpointing import ResumeError

    with pytest.raises(ResumeError, match="does not exist"):
        train(RecipeConfig(**BASE, max_steps=1), "mobilenet_v3", four_words, None, tmp_path, resume=True,
              progress=False)


def test_too_small_dataset_is_a_clear_error(four_words, tmp_path):
    with pytest.raises(ValueError, match="fewer than one batch of 8"):
        train(RecipeConfig(**{**BASE, "batch_size": 8}), "mobilenet_v3", four_words, None, tmp_path,
              progress=False)


def test_learns_fast_sanity(four_words, tmp_path):
    """80 steps on 4 words: the loss falls far below the all-blank plateau (~13-15), so the model emits the
    right characters. The full >= 90 % accuracy check is test_overfit_32_words (slow)."""
    res = train(RecipeConfig(**{**BASE, "checkpoint_every_steps": 0}, max_steps=80, lr=3e-3), "mobilenet_v3",
                four_words, None, tmp_path, progress=False)
    losses = [float(r["loss"]) for r in _csv(tmp_path / "train_metrics.csv")]
    assert len(losses) == 80 and losses[0] > 50
    assert np.mean(losses[-5:]) < 8.0, losses[-10:]
    assert res.images_per_second > 0


@pytest.mark.slow
def test_overfit_32_words(tmp_path):
    """MobileNetV3 memorises 32 rendered words (>= 90 % exact match, eval mode) within 300 steps."""
    words = random_words(32, np.random.default_rng(0))
    data = write_word_lmdb(tmp_path / "train", words, seed=1)
    res = train(RecipeConfig(epochs=10_000, max_steps=300, batch_size=32, lr=3e-3, eval_every_steps=20,
                             checkpoint_every_steps=0, log_every_steps=20, device="cpu"),
                "mobilenet_v3", data, data, tmp_path / "out", progress=False)
    assert res.best_accuracy is not None and res.best_accuracy >= 0.9, res
