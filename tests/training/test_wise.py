"""train.<backbone>.wise_alpha (WiSE-FT): the blend is exact and undone, the run validates and keeps the
blended weights as best while latest stays trained, a resumed run blends with the start it began from, and
the settings are checked."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tests.training.test_init import BASE, MV3
from tests.training.wordimages import random_words, write_word_lmdb
from textrec.config import ConfigError, parse_params
from textrec.config.train import RecipeConfig
from textrec.models.checkpoint import read_params
from textrec.training.trainer import train
from textrec.training.wise import StartBlend


@pytest.fixture(scope="module")
def four_words(tmp_path_factory):
    return write_word_lmdb(tmp_path_factory.mktemp("four") / "train", random_words(4, np.random.default_rng(11)),
                           seed=3)


def _model():
    import paddle

    from textrec.models.crnn import build_model

    paddle.seed(0)
    return build_model("mobilenet_v3", 37)


def _floats(model) -> dict[str, np.ndarray]:
    return {k: t.numpy().copy() for k, t in model.state_dict().items() if t.numpy().dtype.kind == "f"}


def test_the_blend_is_start_plus_alpha_of_the_way_and_is_undone():
    model = _model()
    blend = StartBlend.of_model(model, 0.25)
    start = _floats(model)
    tensors = {id(t): t for t in model.state_dict().values()}  # some tensors have two names (LSTM aliases)
    for t in tensors.values():  # "training": every float tensor moves (BatchNorm statistics too)
        if t.numpy().dtype.kind == "f":
            t.set_value(t.numpy() + 4.0)
    trained = _floats(model)
    with blend.applied():
        inside = _floats(model)
    for k in start:
        np.testing.assert_allclose(inside[k], start[k] + 1.0, atol=1e-5, err_msg=k)  # start + 0.25 * 4
    after = _floats(model)
    assert all(np.array_equal(after[k], trained[k]) for k in trained)
    assert any(k.endswith("_mean") for k in start) and any(k.endswith("_variance") for k in start)


def test_bad_alpha_and_missing_start_fail_in_one_line(tmp_path):
    model = _model()
    for alpha in (0.0, 1.5):
        with pytest.raises(ValueError, match="wise_alpha must be in"):
            StartBlend.of_model(model, alpha)
    with pytest.raises(FileNotFoundError, match="start.pdparams is missing"):
        StartBlend.from_file(model, tmp_path / "start.pdparams", 0.5)
    with pytest.raises(ValueError, match="lack"):
        StartBlend(model, {}, 0.5)


def test_the_setting_is_checked_at_load_time():
    with pytest.raises(ValueError, match="needs an init"):
        RecipeConfig(wise_alpha=0.5)
    for bad in (0, 1.2, "half"):
        with pytest.raises(ConfigError, match="wise_alpha"):
            parse_params({"train": {"mobilenet_v3": {"init": "bundled", "wise_alpha": bad}}})
    assert RecipeConfig(init="bundled", wise_alpha=1.0).wise_alpha == 1.0


def test_a_run_keeps_the_blended_weights_as_best_and_resumes_with_its_start(parity_kit, four_words, tmp_path,
                                                                              caplog):
    """Validated at its last step only (eval_every_steps 0), so best is that step blended: start + 0.5 x
    (latest - start), tensor for tensor; latest stays the trained weights. Stopped after step 1 (time budget)
    and resumed, the run reads the start.pdparams it wrote at its beginning, and cannot resume without it."""
    recipe = dict(**BASE, max_steps=2, lr=1e-2, init=str(parity_kit / MV3), wise_alpha=0.5)
    with caplog.at_level(logging.INFO, logger="textrec.training"):
        res = train(RecipeConfig(**recipe), "mobilenet_v3", four_words, four_words, tmp_path / "a", progress=False)
    assert res.best_step == 2 and "wise_alpha" in caplog.text
    start, latest, best = (read_params(tmp_path / "a" / f"{n}.pdparams") for n in ("start", "latest", "best"))
    assert not np.array_equal(latest["head.fc.bias"], start["head.fc.bias"])  # it did train
    for k, v in best.items():
        if v.dtype.kind == "f":
            np.testing.assert_allclose(v, start[k] + 0.5 * (latest[k] - start[k]), rtol=1e-5, atol=1e-6, err_msg=k)
    cut = train(RecipeConfig(**recipe, time_budget_minutes=0.0), "mobilenet_v3", four_words, four_words,
                tmp_path / "b", progress=False)
    assert cut.steps == 1 and cut.best_step == 1  # validated at the cut: best is step 1 blended
    one, best_one = (read_params(tmp_path / "b" / f"{n}.pdparams") for n in ("latest", "best"))
    assert all(np.allclose(best_one[k], start[k] + 0.5 * (one[k] - start[k]), atol=1e-6) for k in best_one
               if best_one[k].dtype.kind == "f")
    res = train(RecipeConfig(**recipe), "mobilenet_v3", four_words, four_words, tmp_path / "b", resume="auto",
                progress=False)
    assert (res.resumed_from_step, res.steps) == (1, 2)
    again = read_params(tmp_path / "b" / "start.pdparams")  # written once, at the fresh start
    assert all(np.array_equal(again[k], start[k]) for k in start)
    train(RecipeConfig(**recipe, time_budget_minutes=0.0), "mobilenet_v3", four_words, four_words, tmp_path / "c",
          progress=False)
    (tmp_path / "c" / "start.pdparams").unlink()
    with pytest.raises(FileNotFoundError, match="start.pdparams is missing"):
        train(RecipeConfig(**recipe), "mobilenet_v3", four_words, four_words, tmp_path / "c", resume="auto",
              progress=False)
    with pytest.raises(ValueError, match="needs a validation set"):  # else best, the blend, is never written
        train(RecipeConfig(**recipe), "mobilenet_v3", four_words, None, tmp_path / "d", progress=False)


def test_keep_last_hands_on_the_final_steps_blend_whatever_validation_said(parity_kit, four_words, tmp_path, caplog):
    """keep: last (a validation set too small to rank steps): validated at every step, ``best`` is still the
    final step's blend, where keep: best keeps the first of the steps with the highest accuracy."""
    recipe = dict(**(BASE | {"eval_every_steps": 1}), max_steps=3, lr=1e-2, init=str(parity_kit / MV3),
                  wise_alpha=0.5)
    with caplog.at_level(logging.INFO, logger="textrec.training"):
        res = train(RecipeConfig(**recipe, keep="last"), "mobilenet_v3", four_words, four_words, tmp_path / "last",
                    progress=False)
    assert [caplog.text.count(f"step {s}: val accuracy") for s in (1, 2, 3)] == [1, 1, 1]  # the last: kept, once
    assert res.best_step == 3
    start, latest, best = (read_params(tmp_path / "last" / f"{n}.pdparams") for n in ("start", "latest", "best"))
    for k, v in best.items():
        if v.dtype.kind == "f":
            np.testing.assert_allclose(v, start[k] + 0.5 * (latest[k] - start[k]), rtol=1e-5, atol=1e-6, err_msg=k)
    ranked = train(RecipeConfig(**recipe), "mobilenet_v3", four_words, four_words, tmp_path / "best", progress=False)
    curve = [float(line.split("val accuracy ")[1].split()[0]) for line in caplog.text.splitlines()
             if ": val accuracy" in line][:3]  # the keep: last run's; the same trajectory (same seed)
    assert ranked.best_step == 1 + curve.index(max(curve))
    with pytest.raises(ConfigError, match="keep"):
        parse_params({"train": {"mobilenet_v3": {"keep": "first"}}})
