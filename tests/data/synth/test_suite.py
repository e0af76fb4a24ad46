from __future__ import annotations

import runpy
from pathlib import Path

import pandas as pd
import pytest
import yaml

from textrec.artifacts import PrepareSummary
from textrec.config import SynthConfig
from textrec.data.lmdb_io import find_lmdbs, iter_records, num_samples
from textrec.data.synth.suite import BENCHMARK_NAMES, plan, write_all

REPO = Path(__file__).resolve().parents[3]
TINY = {"train_size": 6, "val_size": 4, "bench_size": 3, "processes": 1, "lexicon_size": 2000}


def test_every_split_and_benchmark_gets_its_lmdb(tmp_path: Path) -> None:
    cfg = SynthConfig(**TINY)
    summary = write_all(cfg, tmp_path, log=lambda _: None)
    assert find_lmdbs(tmp_path) == sorted([tmp_path / "train", tmp_path / "val",
                                           *(tmp_path / "bench" / n for n in BENCHMARK_NAMES)])
    assert len(BENCHMARK_NAMES) == 7
    assert num_samples(tmp_path / "train") == 6 and num_samples(tmp_path / "val") == 4
    for name in BENCHMARK_NAMES:
        assert num_samples(tmp_path / "bench" / name) == 3
        assert summary["splits"][name]["profile"] == name
    train = {img for _, img, _ in iter_records(tmp_path / "train")}
    val = {img for _, img, _ in iter_records(tmp_path / "val")}
    assert not train & val
    assert summary["fonts"]["files"] >= 300 and summary["lexicon"].startswith("wordfreq")


def test_unknown_benchmark_fails_before_work() -> None:
    with pytest.raises(KeyError, match="synth_XYZ"):
        plan(SynthConfig(), ("synth_XYZ",))


def test_stage_writes_lmdbs_and_summary(tmp_path: Path) -> None:
    params = {"paths": {k: str(tmp_path / k) for k in ("lmdb", "manifests", "reports")},
              "data": {"source": "synthetic", "synth": TINY},
              "eval": {"benchmarks": ["synth_IC15", "synth_CUTE80"]}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    stage = runpy.run_path(str(REPO / "stages" / "prepare.py"))
    assert stage["main"](["--params", str(tmp_path / "params.yaml")]) == 0
    assert num_samples(tmp_path / "lmdb" / "bench" / "synth_CUTE80") == 3
    summary = PrepareSummary.read(tmp_path / "reports" / "prepare.json")
    assert summary.source == "synthetic" and summary.converted == {} and summary.synthetic is not None
    assert set(summary.synthetic.splits) == {"train", "val", "synth_IC15", "synth_CUTE80"}
    assert summary.training_images() == (["train"], TINY["train_size"])
    # every LMDB comes with its manifest, one row per record
    manifest = pd.read_parquet(tmp_path / "manifests" / "bench" / "synth_CUTE80.parquet")
    assert len(manifest) == 3 and set(manifest["status"]) == {"ok"}


def test_train_styles_mix_profiles_per_image_and_one_style_is_the_plain_profile(ctx) -> None:
    """data.synth.train_styles: each image from one of the named profiles, by share; an image drawn from a
    profile is exactly that profile's image of the same index; one name alone is that profile itself."""
    from textrec.data.synth.profiles import TRAIN, ProfileMix, profile, profile_mix
    from textrec.data.synth.sample import Renderer

    assert profile_mix(["train"]) is TRAIN
    mix = profile_mix(["train", "train", "synth_IC15", "synth_CUTE80"])
    assert isinstance(mix, ProfileMix) and mix.name == "mix(train:0.50+synth_IC15:0.25+synth_CUTE80:0.25)"
    picks = [mix.pick(5678, 1, i).name for i in range(4000)]
    shares = {n: picks.count(n) / len(picks) for n in ("train", "synth_IC15", "synth_CUTE80")}
    assert shares == pytest.approx({"train": 0.5, "synth_IC15": 0.25, "synth_CUTE80": 0.25}, abs=0.03)
    assert picks == [mix.pick(5678, 1, i).name for i in range(4000)]  # a function of (seed, stream, index)
    r = Renderer(ctx)
    for i in range(6):
        got, alone = r.sample(mix, 5678, 1, i), r.sample(profile(picks[i]), 5678, 1, i)
        assert (got.label, got.image) == (alone.label, alone.image)
    with pytest.raises(KeyError, match="synth_XYZ"):
        profile_mix(["train", "synth_XYZ"])
    with pytest.raises(ValueError, match="names no profile"):
        profile_mix([])


def test_train_styles_reach_train_and_val_and_unknown_ones_fail_before_work(tmp_path: Path) -> None:
    cfg = SynthConfig(**TINY, train_styles=("synth_CUTE80", "synth_SVTP"))
    summary = write_all(cfg, tmp_path, benchmarks=["synth_IC15"], log=lambda _: None)
    for split in ("train", "val"):
        assert summary["splits"][split]["profile"] == "mix(synth_CUTE80:0.50+synth_SVTP:0.50)"
    assert summary["splits"]["synth_IC15"]["profile"] == "synth_IC15"  # benchmarks keep their own
    with pytest.raises(KeyError, match="synth_XYZ"):
        plan(SynthConfig(train_styles=("synth_XYZ",)), ["synth_IC15"])
