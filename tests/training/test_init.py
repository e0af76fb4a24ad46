"""train.<backbone>.init: the config rules, loading a checkpoint (strict shapes, another dictionary), the
`paddleocr` release archive end to end through a loopback server, bundled, resume wins, determinism."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.scripts_kit import load_script
from tests.training.wordimages import random_words, write_word_lmdb
from textrec.charset import Charset
from textrec.config import ConfigError, parse_params
from textrec.config.train import RecipeConfig
from textrec.models import pretrained
from textrec.models.checkpoint import CheckpointError, read_params
from textrec.models.pretrained import PADDLEOCR_RELEASES, bundled_checkpoint
from textrec.training.init import InitError, apply_init, resolve_init
from textrec.training.trainer import train

MV3, R34 = "mv3/best_accuracy.pdparams", "r34/r34_init.pdparams"
RELEASE = "rec_mv3_none_bilstm_ctc_v2.0_train"
CS36 = Charset.from_file()
BASE = dict(epochs=1000, batch_size=4, device="cpu", eval_every_steps=0, log_every_steps=1,
            checkpoint_every_steps=1)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _model(backbone: str, num_classes: int = 37, seed: int = 0):
    import paddle

    from textrec.models.crnn import build_model

    paddle.seed(seed)
    return build_model(backbone, num_classes)


def _state(model) -> dict[str, np.ndarray]:
    return {k: t.numpy() for k, t in model.state_dict().items()}


def _equal_to_checkpoint(weights: dict[str, np.ndarray], ckpt: dict[str, np.ndarray], skip: str = "-") -> None:
    """Every tensor of the checkpoint (alias keys included) is in ``weights``, bit for bit."""
    for k, v in ckpt.items():
        if not k.startswith(skip):
            assert np.array_equal(weights[k], v), k


@pytest.fixture(scope="module")
def four_words(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("four")
    return write_word_lmdb(root / "train", random_words(4, np.random.default_rng(11)), seed=3)


# --- config -------------------------------------------------------------------------------------------

def test_init_values_and_zero_steps_are_checked_at_load_time():
    def params(**recipe):
        return parse_params({"train": {"mobilenet_v3": recipe}})

    assert params(init="paddleocr", max_steps=0).train.mobilenet_v3.max_steps == 0
    assert params(init="models/x.pdparams").train.mobilenet_v3.init == "models/x.pdparams"
    with pytest.raises(ConfigError, match=r"params.train.mobilenet_v3: max_steps 0 .* needs an init other"):
        params(max_steps=0)
    with pytest.raises(ConfigError, match=r"init must be one of \['scratch', 'paddleocr', 'bundled'\]"):
        params(init="paddle")
    with pytest.raises(ConfigError, match="init_sha256 must be 64 hex digits"):
        params(init="paddleocr", init_sha256="abc")
    with pytest.raises(ConfigError, match="needs an init other than 'scratch'"):
        params(init_sha256="0" * 64)
    with pytest.raises(ConfigError, match="max_steps"):
        params(init="paddleocr", max_steps=-1)


# --- loading ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("backbone", "rel"), [("mobilenet_v3", MV3), ("resnet34_vd", R34)])
def test_a_kit_checkpoint_loads_bit_for_bit(parity_kit, backbone, rel):
    init = resolve_init(str(parity_kit / rel), backbone)
    assert init.sha256 == _sha((parity_kit / rel).read_bytes())
    model = _model(backbone)
    record = apply_init(model, init, backbone, CS36)
    assert record["head"] == "loaded" and record["source"] == str(parity_kit / rel)
    _equal_to_checkpoint(_state(model), read_params(parity_kit / rel))


def test_another_dictionary_maps_the_head_by_character(parity_kit, caplog):
    """PaddleOCR's 36-class release starts a 95-character (en) head: 36 trained columns + blank, 59 fresh."""
    init = resolve_init(str(parity_kit / MV3), "mobilenet_v3")
    en = Charset.from_file("builtin:en")
    fresh = _state(_model("mobilenet_v3", en.num_classes, seed=5))
    model = _model("mobilenet_v3", en.num_classes, seed=5)
    with caplog.at_level(logging.INFO, logger="textrec.training"):
        record = apply_init(model, init, "mobilenet_v3", en)
    assert record["head"]["copied"] == 37 and record["head"]["fresh"] == 59 and record["head"]["dropped"] == 0
    assert record["head"]["dictionary"].startswith("builtin:0-9a-z")
    assert "37 classes carried over, 59 new to the checkpoint" in caplog.text
    got, ckpt = _state(model), read_params(parity_kit / MV3)
    _equal_to_checkpoint(got, ckpt, skip="head.")
    w, b = got["head.fc.weight"], got["head.fc.bias"]
    assert np.array_equal(w[:, 0], ckpt["head.fc.weight"][:, 0])  # blank
    for ch in "09az":
        assert np.array_equal(w[:, en.characters.index(ch) + 1], ckpt["head.fc.weight"][:, CS36.characters.index(ch) + 1])
        assert b[en.characters.index(ch) + 1] == ckpt["head.fc.bias"][CS36.characters.index(ch) + 1]
    for ch in "AZ$ ":  # new to the checkpoint: the seeded initialisation
        assert np.array_equal(w[:, en.characters.index(ch) + 1], fresh["head.fc.weight"][:, en.characters.index(ch) + 1])


def test_unknown_or_disjoint_dictionaries_fail_in_one_line(parity_kit, tmp_path):
    init = resolve_init(str(parity_kit / MV3), "mobilenet_v3")
    greek = tmp_path / "greek.txt"
    greek.write_text("α\nβ\n")
    with pytest.raises(InitError, match=r"shares no character with this run's"):
        apply_init(_model("mobilenet_v3", 3), init, "mobilenet_v3", Charset.from_file(greek))
    dup = tmp_path / "dup.txt"
    dup.write_text("a\nb\na\n")
    with pytest.raises(InitError, match=r"dup.txt line 3: duplicate character 'a'"):
        apply_init(_model("mobilenet_v3", 3), init, "mobilenet_v3", Charset.from_file(greek), init_dict=str(dup))
    # a 96-class checkpoint with no dictionary beside it, loaded by a 37-class run: say what to do
    import paddle

    en_ckpt = tmp_path / "en.pdparams"
    paddle.save(_state(_model("mobilenet_v3", 96)), str(en_ckpt))
    with pytest.raises(InitError, match=r"cannot tell which dictionary .*en.pdparams \(96 classes\).*en.dict.txt"):
        apply_init(_model("mobilenet_v3"), resolve_init(str(en_ckpt), "mobilenet_v3"), "mobilenet_v3", CS36)


def test_a_case_sensitive_head_folds_into_a_lowercase_one(tmp_path):
    """en -> 0-9a-z: 'a' gets the sum of the 'a' and 'A' columns (logits add), punctuation is dropped."""
    import paddle

    en = Charset.from_file("builtin:en")
    src_model = _model("mobilenet_v3", en.num_classes, seed=1)
    ckpt = tmp_path / "en.pdparams"
    paddle.save(src_model.state_dict(), str(ckpt))
    (tmp_path / "en.dict.txt").write_text("".join(c + "\n" for c in en.characters))
    model = _model("mobilenet_v3", 37, seed=2)
    record = apply_init(model, resolve_init(str(ckpt), "mobilenet_v3"), "mobilenet_v3", CS36, fold="linear")
    assert record["head"]["copied"] == 37 and record["head"]["folded"] == 26 and record["head"]["fresh"] == 0
    assert record["head"]["dropped"] == 33  # 32 punctuation characters and the space
    src, got = _state(src_model), _state(model)
    col = en.characters.index
    assert np.allclose(got["head.fc.weight"][:, CS36.characters.index("g") + 1],
                       src["head.fc.weight"][:, col("g") + 1] + src["head.fc.weight"][:, col("G") + 1])
    assert np.array_equal(got["head.fc.weight"][:, CS36.characters.index("7") + 1], src["head.fc.weight"][:, col("7") + 1])


def test_an_exact_fold_reads_as_the_case_sensitive_checkpoint_and_starts_only_its_own_dictionary(tmp_path):
    """en -> 0-9a-z, init_fold exact (the default): the checkpoint's 96 columns stay, their probabilities are
    summed per class (and the punctuation's into the blank); the folded checkpoint restarts 0-9a-z runs only."""
    import paddle

    from textrec.inference.engines import PaddleEngine
    from textrec.training.head_fit import class_groups

    en = Charset.from_file("builtin:en")
    src_model = _model("mobilenet_v3", en.num_classes, seed=1)
    ckpt = tmp_path / "en.pdparams"
    paddle.save(src_model.state_dict(), str(ckpt))
    (tmp_path / "en.dict.txt").write_text(en.dictionary_text())
    model = _model("mobilenet_v3", 37, seed=2)
    record = apply_init(model, resolve_init(str(ckpt), "mobilenet_v3"), "mobilenet_v3", CS36)
    assert record["head"]["fold"] == {"columns": 96, "classes": 37}
    assert (record["head"]["folded"], record["head"]["dropped"]) == (26, 33) and "fit" not in record["head"]
    x = paddle.rand([2, 3, 32, 100])
    src_model.eval(), model.eval()
    p = src_model(x).numpy()  # [2, 25, 96]
    grouped = np.stack([p[:, :, g].sum(axis=2) for g in class_groups(en.characters, CS36)], axis=2)
    np.testing.assert_allclose(model(x).numpy(), grouped, atol=1e-6)

    folded = tmp_path / "dtrb.pdparams"
    paddle.save(model.state_dict(), str(folded))  # no dictionary beside: a 37-class head is 0-9a-z
    np.testing.assert_allclose(PaddleEngine(folded, 37, "mobilenet_v3")(x.numpy()), grouped, atol=1e-6)
    again = _model("mobilenet_v3", 37, seed=3)
    assert apply_init(again, resolve_init(str(folded), "mobilenet_v3"), "mobilenet_v3", CS36)["head"] == "loaded"
    _equal_to_checkpoint(_state(again), _state(model))
    with pytest.raises(InitError, match=r"dtrb.pdparams has a folded head .* own dictionary"):
        apply_init(_model("mobilenet_v3", en.num_classes), resolve_init(str(folded), "mobilenet_v3"),
                   "mobilenet_v3", en)


def test_shapes_must_match_exactly(parity_kit, tmp_path):
    import paddle

    params = read_params(parity_kit / MV3)
    params["neck.encoder.lstm.0.cell_fw.weight_hh"] = np.zeros((384, 95), np.float32)
    bad = tmp_path / "bad.pdparams"
    paddle.save(params, str(bad))
    with pytest.raises(CheckpointError, match=r"neck.encoder.lstm.0.cell_fw.weight_hh: checkpoint \[384, 95\] "
                                              r"float32, model \[384, 96\] float32"):
        apply_init(_model("mobilenet_v3"), resolve_init(str(bad), "mobilenet_v3"), "mobilenet_v3", CS36)
    with pytest.raises(CheckpointError, match="is a resnet34_vd checkpoint; this recipe trains mobilenet_v3"):
        apply_init(_model("mobilenet_v3"), resolve_init(str(parity_kit / R34), "mobilenet_v3"), "mobilenet_v3",
                   CS36)


def test_missing_files_and_pinned_checksums(parity_kit, tmp_path, monkeypatch):
    with pytest.raises(InitError, match="not found"):
        resolve_init(str(tmp_path / "none.pdparams"), "mobilenet_v3")
    with pytest.raises(InitError, match="init_sha256 pins " + "0" * 64):
        resolve_init(str(parity_kit / MV3), "mobilenet_v3", sha256="0" * 64)
    monkeypatch.setattr(pretrained, "BUNDLED_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="no bundled checkpoint for mobilenet_v3"):
        resolve_init("bundled", "mobilenet_v3")
    (tmp_path / "mobilenet_v3.pdparams").write_bytes((parity_kit / MV3).read_bytes())
    init = resolve_init("bundled", "mobilenet_v3", sha256=_sha((parity_kit / MV3).read_bytes()))
    assert (init.source, init.path) == ("bundled", bundled_checkpoint("mobilenet_v3"))


# --- paddleocr: the release archive through a loopback server, 0 steps -------------------------------

def _release_tar(ckpt: Path) -> bytes:
    """The layout of PaddleOCR's training archive: <name>/best_accuracy.{pdparams,pdopt,states}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for suffix, data in (("pdparams", ckpt.read_bytes()), ("pdopt", b"optimizer"), ("states", b"states")):
            info = tarfile.TarInfo(f"{RELEASE}/best_accuracy.{suffix}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_paddleocr_release_end_to_end_zero_steps(parity_kit, server, four_words, tmp_path):
    import paddle

    from textrec.models.checkpoint import load_weights

    tar = _release_tar(parity_kit / MV3)
    server.files[f"/{RELEASE}.tar"] = tar
    recipe = {**BASE, "max_steps": 0, "init": "paddleocr", "init_sha256": _sha(tar)}

    def params(**kw):
        return parse_params({"paths": {"downloads": str(tmp_path / "cache")},
                             "data": {"real": {"mirror": server.url(""), "retries": 0, "timeout_seconds": 10}},
                             "train": {"mobilenet_v3": {**recipe, **kw}}})

    out = tmp_path / "out"
    res = train(params(), "mobilenet_v3", four_words, four_words, out, metrics_csv=tmp_path / "log.csv",
                progress=False)
    assert (res.steps, res.stop_reason, res.best_step) == (0, "max_steps", 0)
    assert server.requests == [{"path": f"/{RELEASE}.tar", "range": None}]
    assert res.init == {"source": "paddleocr", "url": PADDLEOCR_RELEASES["mobilenet_v3"].url,
                        "archive_sha256": _sha(tar), "sha256": _sha((parity_kit / MV3).read_bytes()),
                        "path": res.init["path"], "head": "loaded"}
    assert res.init["path"].endswith(f"{RELEASE}/best_accuracy.pdparams")
    assert json.loads((out / "latest.state.json").read_text())["init"] == res.init
    assert (tmp_path / "log.csv").read_text().splitlines() == ["step,epoch,loss,lr,images_per_second,val_accuracy"]
    kit = read_params(parity_kit / MV3)
    for name in ("best", "latest"):  # the trained-from weights are the checkpoint's, bit for bit
        _equal_to_checkpoint(read_params(out / f"{name}.pdparams"), kit)
    # ... so they give PaddleOCR's outputs on the parity inputs
    model = _model("mobilenet_v3")
    load_weights(model, out / "best.pdparams")
    model.eval()
    with paddle.no_grad():
        got = model(paddle.to_tensor(np.load(parity_kit / "inputs_mv3.npy"))).numpy()
    assert float(np.abs(got - np.load(parity_kit / "outputs_mv3.npy")).max()) <= 1e-5

    # a second run finds the release in the download cache; without its checksum it is refused
    again = train(params(), "mobilenet_v3", four_words, None, tmp_path / "again", progress=False)
    assert again.init == res.init and len(server.requests) == 1
    with pytest.raises(Exception, match=r"no sha256 configured(.|\n)*train.mobilenet_v3.init_sha256"):
        train(params(init_sha256=None), "mobilenet_v3", four_words, None, tmp_path / "unpinned", progress=False)


# --- resume wins; same init + seed, same weights -----------------------------------------------------

def test_resume_ignores_init_and_runs_are_deterministic(parity_kit, four_words, tmp_path, caplog):
    recipe = dict(**BASE, max_steps=2, lr=1e-3, init=str(parity_kit / MV3))
    a = train(RecipeConfig(**recipe), "mobilenet_v3", four_words, None, tmp_path / "a", progress=False)
    train(RecipeConfig(**recipe), "mobilenet_v3", four_words, None, tmp_path / "b", progress=False)
    # interrupted after step 1 (time budget), then resumed: init must not overwrite the step-1 weights
    c = train(RecipeConfig(**recipe, time_budget_minutes=0.0), "mobilenet_v3", four_words, None, tmp_path / "c",
              progress=False)
    assert (c.steps, c.stop_reason) == (1, "time_budget")
    with caplog.at_level(logging.INFO, logger="textrec.training"):
        c = train(RecipeConfig(**recipe), "mobilenet_v3", four_words, None, tmp_path / "c", resume="auto",
                  progress=False)
    assert (c.resumed_from_step, c.steps) == (1, 2) and c.init == a.init
    assert "not applied" in caplog.text
    wa, wb, wc = (read_params(tmp_path / d / "latest.pdparams") for d in "abc")
    kit = read_params(parity_kit / MV3)
    assert not np.array_equal(wa["head.fc.bias"], kit["head.fc.bias"])  # it did train
    for k in wa:
        assert np.array_equal(wa[k], wb[k]) and np.array_equal(wa[k], wc[k]), k


def test_a_trained_checkpoint_carries_its_dictionary_to_the_next_run(parity_kit, four_words, tmp_path):
    """An en run from PaddleOCR's 36 classes; its checkpoints (and snapshots) keep <stem>.dict.txt beside them,
    so a 0-9a-z run started from them folds the head without being told the dictionary."""
    en = Charset.from_file("builtin:en")
    recipe = RecipeConfig(**BASE, max_steps=2, lr=1e-3, init=str(parity_kit / MV3), keep_steps=(1,))
    res = train(recipe, "mobilenet_v3", four_words, None, tmp_path / "en", charset=en, progress=False)
    assert res.init["head"]["fresh"] == 59
    for stem in ("latest", "best", "snapshots/step_1"):
        assert (tmp_path / "en" / f"{stem}.dict.txt").read_text(encoding="utf-8") == en.dictionary_text(), stem
    assert (tmp_path / "en" / "snapshots" / "step_1.pdparams").is_file()
    back = RecipeConfig(**BASE, max_steps=1, lr=1e-3, init=str(tmp_path / "en" / "latest.pdparams"))
    res = train(back, "mobilenet_v3", four_words, None, tmp_path / "dtrb", progress=False)
    assert res.init["head"]["dictionary"].endswith("latest.dict.txt")
    assert (res.init["head"]["copied"], res.init["head"]["folded"], res.init["head"]["fresh"]) == (37, 26, 0)
    assert res.init["head"]["fold"] == {"columns": 96, "classes": 37}  # init_fold exact (the default)
    # the model as training began is kept: neither the init file nor a checkpoint of the run
    start, latest = (read_params(tmp_path / "dtrb" / f"{n}.pdparams") for n in ("start", "latest"))
    assert start["head.fc.weight"].shape == (192, 96) and start["head.fold"].shape == (96, 37)
    assert np.array_equal(latest["head.fold"], start["head.fold"])  # trained columns, the same grouping
    assert not np.array_equal(latest["head.fc.weight"], start["head.fc.weight"])
    # a folded run resumes folded
    more = RecipeConfig(**BASE, max_steps=2, lr=1e-3, init=str(tmp_path / "en" / "latest.pdparams"))
    res = train(more, "mobilenet_v3", four_words, None, tmp_path / "dtrb", resume=True, progress=False)
    assert (res.resumed_from_step, res.steps) == (1, 2)
    assert read_params(tmp_path / "dtrb" / "latest.pdparams")["head.fc.weight"].shape == (192, 96)

    linear = dict(init=str(tmp_path / "en" / "latest.pdparams"), init_fold="linear")
    res = train(RecipeConfig(**BASE, max_steps=1, lr=1e-3, **linear), "mobilenet_v3", four_words, None,
                tmp_path / "linear", progress=False)
    fit = res.init["head"]["fit"]  # one column per class, fitted to the en head (no validation set: train's)
    assert fit["images"] == 4 and fit["frames"] == 4 * 25 and fit["agreement_after"] >= fit["agreement_before"]
    start = read_params(tmp_path / "linear" / "start.pdparams")
    assert start["head.fc.weight"].shape == (192, 37) and "head.fold" not in start  # [2 x hidden 96, 0-9a-z + blank]
    zero = RecipeConfig(**BASE, max_steps=0, **linear)
    res = train(zero, "mobilenet_v3", four_words, None, tmp_path / "zero", progress=False)
    best = read_params(tmp_path / "zero" / "latest.pdparams")  # no validation set: no best
    assert all(np.array_equal(best[k], v) for k, v in read_params(tmp_path / "zero" / "start.pdparams").items())
    unfitted = RecipeConfig(**BASE, max_steps=0, init_head_fit_images=0, **linear)
    res = train(unfitted, "mobilenet_v3", four_words, None, tmp_path / "unfitted", progress=False)
    assert "fit" not in res.init["head"]


# --- the stages: download fetches the releases (printing the sha256 to pin), a 0-step train writes it all --

def _stage(name: str):
    return load_script(f"stages/{name}.py")


def test_download_stage_fetches_the_release_and_prints_its_checksum(parity_kit, server, tmp_path, capsys):
    import yaml

    tar = _release_tar(parity_kit / MV3)
    server.files[f"/{RELEASE}.tar"] = tar
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump({
        "paths": {"raw": str(tmp_path / "raw"), "downloads": str(tmp_path / "cache")},
        "model": {"backbones": ["mobilenet_v3"]},
        "data": {"real": {"mirror": server.url(""), "retries": 0}},
        "train": {"mobilenet_v3": {"init": "paddleocr", "max_steps": 0}}}))
    download = _stage("download")
    assert download.main(["--params", str(pfile), "--no-progress"]) == 1
    assert "train.mobilenet_v3.init_sha256" in capsys.readouterr().err and not server.requests
    assert download.main(["--params", str(pfile), "--no-progress", "--allow-missing-checksum"]) == 0
    assert f"train.mobilenet_v3:\n    init_sha256: {_sha(tar)}" in capsys.readouterr().out
    record = json.loads((tmp_path / "raw" / "downloads.json").read_text())["init_releases"]
    assert [(r["name"], r["sha256"], r["checksum_configured"]) for r in record] == [
        ("paddleocr_mobilenet_v3", _sha(tar), False)]
    extracted = tmp_path / "cache" / "paddleocr" / "paddleocr_mobilenet_v3" / RELEASE
    assert (extracted / "best_accuracy.pdparams").read_bytes() == (parity_kit / MV3).read_bytes()


def test_zero_step_train_stage_writes_what_downstream_stages_read(parity_kit, tmp_path, monkeypatch,
                                                                   capsys):
    from tests.training.wordimages import write_project

    pfile = write_project(tmp_path, 8, 4, {**BASE, "max_steps": 0, "init": str(parity_kit / MV3)})
    monkeypatch.chdir(tmp_path)
    missing = write_project(tmp_path, 8, 4, {**BASE, "init": "gone.pdparams"}, params_name="missing.yaml")
    assert _stage("train").main(["--backbone", "mobilenet_v3", "--params", str(missing)]) == 1
    assert "train: error: init: checkpoint gone.pdparams not found" in capsys.readouterr().err
    assert _stage("train").main(["--backbone", "mobilenet_v3", "--params", str(pfile), "--no-progress"]) == 0
    reports, models = tmp_path / "reports" / "train" / "mobilenet_v3", tmp_path / "models" / "mobilenet_v3"
    summary = json.loads((reports / "train.json").read_text())
    assert (summary["steps"], summary["stop_reason"], summary["best_step"]) == (0, "max_steps", 0)
    assert summary["init"]["sha256"] == _sha((parity_kit / MV3).read_bytes())
    assert (reports / "train_log.csv").is_file() and (reports / "data_train.json").is_file()
    for f in ("best.pdparams", "best.state.json", "latest.pdparams", "latest.pdopt", "latest.state.json"):
        assert (models / f).is_file(), f
