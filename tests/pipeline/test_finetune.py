"""The `finetune` profile end to end: `textrec profile finetune` and `dvc repro` in a copy of the project,
on fixture crops laid out as PaddleOCR lays them (data/own/rec_gt_{train,val,test}.txt), from a checkpoint
standing in for the bundled model; then `textrec track` and `textrec register` into the project's MLflow
store. A few steps on a few dozen images: it proves the plumbing. The whole DAG takes minutes (5.4 on 2
loaded cores), so that test is slow (`pytest -m slow`); the prepare stage's folder source runs by default."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.data.test_validate import load_stage
from tests.pipeline.project import copy_project, dvc, run
from tests.training.wordimages import random_words, render_word
from textrec.artifacts import PrepareSummary
from textrec.artifacts.metrics import avg_acc_key
from textrec.config import PROFILES
from textrec.data.lmdb_io import find_lmdbs, iter_records
from textrec.profiles import compose, load_profile

REPO = Path(__file__).resolve().parents[2]


def write_own_data(own: Path, counts: dict[str, int], seed: int = 0) -> dict[str, list[str]]:
    """rec_gt_<split>.txt + <split>/ per split, in PaddleOCR's layout; the train file also names one image
    that does not exist (a rejected row)."""
    rng = np.random.default_rng(seed)
    words = random_words(sum(counts.values()), rng)
    out, start = {}, 0
    for split, n in counts.items():
        (own / split).mkdir(parents=True)
        lines = []
        for i, word in enumerate(words[start:start + n]):
            (own / split / f"word_{i:03d}.png").write_bytes(render_word(word, rng))
            lines.append(f"{split}/word_{i:03d}.png\t{word.upper() if i % 3 == 0 else word}")
        if split == "train":
            lines.append("train/lost.png\tlost")
        (own / f"rec_gt_{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        out[split], start = words[start:start + n], start + n
    return out


def init_checkpoint(path: Path) -> Path:
    """A MobileNetV3 checkpoint in the bundled model's format (the bundled one may not be built yet)."""
    import paddle

    from textrec.models.crnn import build_model

    paddle.seed(0)
    paddle.save(build_model("mobilenet_v3", 37).state_dict(), str(path))
    return path


def test_every_profile_lists_every_params_key_a_stage_tracks():
    """dvc refuses to run a stage whose params key is missing from params.yaml (data.folder is new)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for name in PROFILES:
        values = compose(name, REPO)  # profiles/base.yaml + profiles/<name>.yaml: what params.yaml gets
        backbones = load_profile(name, REPO).model.backbones
        for stage in stages.values():
            for key in stage.get("params", []):
                for bb in backbones:
                    node = values
                    for part in key.replace("${item.backbone}", bb).split("."):
                        assert isinstance(node, dict) and part in node, f"profile {name} lacks {key}"
                        node = node[part]


def test_prepare_stage_converts_own_data_and_renders_only_the_synthetic_benchmarks(tmp_path):
    own = tmp_path / "own"
    words = write_own_data(own, {"train": 6, "val": 2, "test": 3})
    folder = {"root": str(own), "train": [{"src": "rec_gt_train.txt"}], "val": [{"src": "rec_gt_val.txt"}],
              "test": [{"src": "rec_gt_test.txt", "name": "mine"}]}
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump({
        "paths": {k: str(tmp_path / k) for k in ("raw", "lmdb", "manifests", "reports")},
        "data": {"source": "folder", "folder": folder, "real": {"processes": 0},
                 "synth": {"bench_size": 3, "processes": 0}},
        "eval": {"benchmarks": ["mine", "synth_IC15"]}}))
    assert load_stage("prepare").main(["--params", str(pfile), "--no-progress"]) == 0
    prep = PrepareSummary.read(tmp_path / "reports" / "prepare.json")
    assert {k: (v.samples, v.written) for k, v in prep.converted.items()} == {
        "train": (7, 6), "val": (2, 2), "bench/mine": (3, 3)}
    assert prep.synthetic is not None and list(prep.synthetic.splits) == ["synth_IC15"]
    lmdbs = sorted(p.relative_to(tmp_path / "lmdb").as_posix() for p in find_lmdbs(tmp_path / "lmdb"))
    assert lmdbs == ["bench/mine", "bench/synth_IC15", "train", "val"]
    manifests = sorted(p.relative_to(tmp_path / "manifests").as_posix()
                       for p in (tmp_path / "manifests").rglob("*.parquet"))
    assert manifests == [f"{name}.parquet" for name in lmdbs]  # what the validate stage holds them against
    assert [lab.decode() for _, _, lab in iter_records(tmp_path / "lmdb" / "bench" / "mine")] == words["test"]


def link_own_data(real: Path, own: Path, folders: bool) -> None:
    """``own`` as a user lays it out beside data kept elsewhere (``real``, as ``write_own_data`` wrote it): the
    label files copied, the image folders linked whole (``folders``) or image by image."""
    own.mkdir(parents=True, exist_ok=True)
    for item in sorted(real.iterdir()):
        if item.is_file():
            (own / item.name).write_bytes(item.read_bytes())
        elif folders:
            (own / item.name).symlink_to(item, target_is_directory=True)
        else:
            (own / item.name).mkdir()
            for img in sorted(item.iterdir()):
                (own / item.name / img.name).symlink_to(img)


def test_prepare_refuses_own_data_in_a_linked_folder_and_says_what_to_do(tmp_path, capsys):
    """DVC does not walk into a linked folder: prepare refuses it, in one line, before converting anything."""
    write_own_data(tmp_path / "real", {"train": 3, "val": 1, "test": 2})
    own = tmp_path / "own"
    link_own_data(tmp_path / "real", own, folders=True)
    folder = {"root": str(own), "train": [{"src": "rec_gt_train.txt"}], "val": [{"src": "rec_gt_val.txt"}],
              "test": [{"src": "rec_gt_test.txt", "name": "mine"}]}
    pfile = tmp_path / "params.yaml"
    pfile.write_text(yaml.safe_dump({
        "paths": {k: str(tmp_path / k) for k in ("raw", "lmdb", "manifests", "reports")},
        "data": {"source": "folder", "folder": folder, "real": {"processes": 0}},
        "eval": {"benchmarks": ["mine"]}}))
    assert load_stage("prepare").main(["--params", str(pfile), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"prepare: error: {own / 'test'} is a link to the folder "
                                               f"{tmp_path / 'real' / 'test'} (and 2 more linked folder(s))")
    assert "DVC does not look inside linked folders" in err[0] and "cp -rl" in err[0]
    assert "data.folder.root" in err[0]
    assert find_lmdbs(tmp_path / "lmdb") == [] and not (tmp_path / "reports" / "prepare.json").exists()


@pytest.mark.timeout(600)
def test_own_data_behind_links_is_refused_or_tracked_by_dvc(tmp_path):
    """In a copy of the project: linked image folders stop `dvc repro` at prepare with the message; images
    linked one by one are hashed by DVC through the link, so changing one re-runs prepare."""
    project = copy_project(tmp_path / "project", "finetune")
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["eval"]["benchmarks"] = ["own_test"]  # no synthetic renders: prepare only converts
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    real, own = tmp_path / "real", project / "data" / "own"
    write_own_data(real, {"train": 4, "val": 2, "test": 2})

    link_own_data(real, own, folders=True)
    proc = dvc(["repro", "prepare"], project, check=False)
    assert proc.returncode != 0 and "is a link to the folder" in proc.stderr + proc.stdout

    for split in ("train", "val", "test"):
        (own / split).unlink()
    link_own_data(real, own, folders=False)
    dvc(["repro", "prepare"], project)
    assert PrepareSummary.read(project / "reports" / "prepare.json").converted["bench/own_test"].written == 2
    assert "prepare" not in dvc(["status", "prepare"], project).stdout
    image = real / "test" / "word_000.png"
    image.write_bytes(render_word("changed", np.random.default_rng(1)))
    assert "modified:" in dvc(["status", "prepare"], project).stdout  # data/own, through the link
    assert "Running stage 'prepare'" in dvc(["repro", "prepare"], project).stdout


@pytest.mark.slow
@pytest.mark.timeout(1800)  # every stage in subprocesses on shared cores: 5.4 min measured under load
def test_finetune_profile_runs_end_to_end_on_fixture_crops(tmp_path):
    project = copy_project(tmp_path / "project", "finetune")
    own = project / "data" / "own"
    assert (own / "README.md").exists()  # the placeholder that keeps prepare's dependency in place
    write_own_data(own, {"train": 40, "val": 8, "test": 12})
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["data"]["source"] == "folder" and params["train"]["mobilenet_v3"]["init"] == "bundled"
    params["train"]["mobilenet_v3"].update(
        init=str(init_checkpoint(tmp_path / "init.pdparams")), max_steps=4, batch_size=8, processes=1,
        eval_every_steps=2, checkpoint_every_steps=2, log_every_steps=1)
    params["data"]["synth"]["bench_size"] = 8
    params["eval"]["benchmarks"] = ["own_test", "synth_IIIT5K", "synth_IC15"]  # two of the synthetic suite
    params["export"]["parity_images"] = 4
    params["quantize"].update(calibration_images=16, timing_rounds=1, max_accuracy_drop=1.0,
                              require_faster=False)
    params["promotion"]["max_latency_ms"] = 1000.0
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc(["repro"], project, timeout=1400)

    prep = PrepareSummary.read(project / "reports" / "prepare.json")
    train = prep.converted["train"]
    assert prep.source == "folder" and (train.samples, train.written, train.rejected) == (41, 40, {"missing_file": 1})
    assert (prep.converted["val"].written, prep.converted["bench/own_test"].written) == (8, 12)
    assert prep.synthetic is not None
    assert sorted(prep.synthetic.splits) == ["synth_IC15", "synth_IIIT5K"]  # no synthetic train/val
    rej = json.loads((project / "data" / "manifests" / "train.rejections.json").read_text())
    assert rej["items"] == {"missing_file": ["train/lost.png"]}
    assert json.loads((project / "reports" / "validation.json").read_text())["success"] is True

    summary = json.loads((project / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    assert summary["steps"] == 4 and summary["init"]["path"] == str(tmp_path / "init.pdparams")
    for bench, count in (("own_test", 12), ("synth_IIIT5K", 8), ("synth_IC15", 8)):
        ev = json.loads((project / "reports" / "eval" / "mobilenet_v3" / f"{bench}.json").read_text())
        assert ev["count"] == count and 0.0 <= ev["accuracy"] <= 1.0
    assert json.loads((project / "reports" / "export" / "mobilenet_v3.json").read_text())["passed"] is True
    assert json.loads((project / "reports" / "quantize" / "mobilenet_v3.json").read_text())["passed"] is True
    assert "own_test" in (project / "reports" / "summary.md").read_text()
    assert (project / "exported" / "mobilenet_v3" / "model_int8.onnx").stat().st_size > 0

    # MLflow and the registry, as the Prefect flow does after `dvc repro`: the profile's own model name
    run([sys.executable, "-m", "textrec.cli", "track"], project, timeout=600)
    run([sys.executable, "-m", "textrec.cli", "register"], project, timeout=600)
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{project / 'mlflow.db'}")
    version = client.get_model_version_by_alias("crnn-finetuned", "challenger")
    run_data = client.get_run(version.run_id).data
    assert run_data.tags["profile"] == "finetune" and "acc_fp32/own_test" in run_data.metrics
    own_mean = avg_acc_key("int8", own=True)  # ranked by your test set: its mean is the one the version carries
    assert run_data.metrics[own_mean] == run_data.metrics["acc_int8/own_test"]
    assert version.tags[own_mean] == str(run_data.metrics[own_mean])
