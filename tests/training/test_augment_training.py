"""train.<backbone>.augment in the trainer: training batches only, and a stopped-then-resumed run with
augmentation lands on the very weights of an uninterrupted one (its images depend on (seed, epoch, index))."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.wordimages import random_words, write_word_lmdb
from textrec.config.train import AugmentConfig, RecipeConfig
from textrec.data.dataset import LmdbTextDataset
from textrec.models.checkpoint import read_params
from textrec.training.trainer import train

AUGMENT = (AugmentConfig("perspective", 0.5), AugmentConfig("crop", 0.5), AugmentConfig("contrast", 0.5),
           AugmentConfig("noise", 0.5))
BASE = dict(epochs=1000, batch_size=4, lr=2e-3, device="cpu", eval_every_steps=0, log_every_steps=1,
            checkpoint_every_steps=1, seed=3, augment=AUGMENT)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("aug")
    words = random_words(12, np.random.default_rng(2))
    return (write_word_lmdb(root / "train", words[:8], seed=1),
            write_word_lmdb(root / "val", words[8:], seed=2))


def test_only_training_batches_are_augmented(data, tmp_path, monkeypatch):
    calls: list[tuple[str, bool]] = []
    sample = LmdbTextDataset.sample

    def spy(self, i, augment=None):
        calls.append((self.root.name, augment is not None))
        return sample(self, i, augment)

    monkeypatch.setattr(LmdbTextDataset, "sample", spy)
    train(RecipeConfig(**{**BASE, "max_steps": 3, "eval_every_steps": 2}), "mobilenet_v3", *data, tmp_path,
          progress=False)
    assert sorted(set(calls)) == [("train", True), ("val", False)]
    assert calls.count(("train", True)) == 3 * 4 and calls.count(("val", False)) == 2 * 4  # 2 validations


def test_stopped_and_resumed_run_equals_the_straight_one(data, tmp_path):
    """8 records, batch 4: step 1 is in epoch 0, the resumed steps 2..5 run through epochs 0, 1 and 2."""
    straight = train(RecipeConfig(**BASE, max_steps=5), "mobilenet_v3", data[0], None, tmp_path / "a",
                     progress=False)
    first = train(RecipeConfig(**BASE, max_steps=5, time_budget_minutes=0.0), "mobilenet_v3", data[0], None,
                  tmp_path / "b", progress=False)
    assert (first.stop_reason, first.steps) == ("time_budget", 1)
    resumed = train(RecipeConfig(**BASE, max_steps=5), "mobilenet_v3", data[0], None, tmp_path / "b",
                    resume="auto", progress=False)
    assert (straight.steps, resumed.steps, resumed.resumed_from_step) == (5, 5, 1)
    a, b = (read_params(tmp_path / d / "latest.pdparams") for d in "ab")
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) == 0.0
    plain = train(RecipeConfig(**{**BASE, "augment": ()}, max_steps=5), "mobilenet_v3", data[0], None,
                  tmp_path / "c", progress=False)
    c = read_params(tmp_path / "c" / "latest.pdparams")
    assert plain.steps == 5 and max(float(np.abs(a[k] - c[k]).max()) for k in a) > 0  # augmentation mattered


def test_a_checkpoint_from_before_augment_was_a_list_still_resumes():
    """Its state says ``augment: false`` (none); the same recipe now says ``augment: []``."""
    from textrec.training.resume import changed_keys

    assert changed_keys({"augment": False, "lr": 1.0}, {"augment": [], "lr": 1.0}) == []
    assert changed_keys({"augment": False}, {"augment": [{"name": "blur", "p": 0.5}]}) == ["augment"]
    # a setting added since (keep) counts as its default in an older checkpoint's recipe
    assert changed_keys({"lr": 1.0}, {"lr": 1.0, "keep": "best"}) == []
    assert changed_keys({"lr": 1.0}, {"lr": 1.0, "keep": "last"}) == ["keep"]
