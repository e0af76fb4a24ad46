"""Profiles as overlays (issue 21): profiles/base.yaml + profiles/<name>.yaml + ``-o`` overrides compose into
params.yaml; deep merge of mappings, lists replaced whole, a key the base lacks refused by name."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from textrec.cli import main
from textrec.config import PROFILES, ConfigError, Params, flatten, load_params, to_dict
from textrec.config._yaml import load_params_yaml
from textrec.profiles import compose, load_profile, render, write_profile

REPO = Path(__file__).resolve().parents[2]
# Every setting of each profile, first taken from the complete files of commit 9aa0932 (see its "source").
# A deliberate change of a profile's values changes its lines there in the same commit, so the diff shows
# every profile that a change of profiles/base.yaml reaches.
FIXTURE = Path(__file__).parent / "fixtures" / "profiles_before_overlays.json"
EXPECTED = json.loads(FIXTURE.read_text())


def _project(tmp_path: Path) -> Path:
    """profiles/ of the repository in a tmp dir, to be edited by the test."""
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    return tmp_path


@pytest.mark.parametrize("name", PROFILES)
def test_every_profile_composes_to_its_recorded_values(name):
    got = flatten(to_dict(load_profile(name, REPO)))
    want = EXPECTED["profiles"][name]
    defaults = flatten(to_dict(Params()))  # a setting added to the config since is recorded at its default
    changed = {k: (want.get(k, defaults.get(k)), got.get(k)) for k in want.keys() | got.keys()
               if want.get(k, defaults.get(k)) != got.get(k)}
    assert changed == {}, (f"profile {name}: (recorded, composed) differ; if that is meant, change "
                           f"\"profiles\".\"{name}\" in {FIXTURE.relative_to(REPO)}")


def test_pretrain_data_synth_composes_to_the_same_keys_and_values():
    # the long pretrain run's 600k renders are a function of data.synth, which DVC's prepare stage tracks as
    # written: a key more or less and `dvc repro` renders them again, and a resumed run starts over
    assert compose("pretrain", REPO)["data"]["synth"] == EXPECTED["pretrain_data_synth"], (
        "pretrain's data.synth as written changed: `dvc repro` would render its 600k images again; if that is "
        f"meant, change \"pretrain_data_synth\" in {FIXTURE.relative_to(REPO)}")


def test_params_yaml_is_the_composed_demo_profile():
    # the README's first command is `dvc repro` on the checkout's params.yaml
    expected = render("demo", (), compose("demo", REPO))
    assert (REPO / "params.yaml").read_text(encoding="utf-8") == expected, "run `textrec profile demo`"


def test_written_params_read_back_as_composed_with_header(tmp_path):
    root = _project(tmp_path)
    for name in PROFILES:
        out = write_profile(name, root / "params.yaml", ("train.mobilenet_v3.lr=2e-3",))
        text = out.read_text(encoding="utf-8")
        assert text.startswith(f"# Written by `textrec profile {name} -o train.mobilenet_v3.lr=2e-3`: "
                               f"profiles/base.yaml + profiles/{name}.yaml + the -o overrides.")
        assert load_params_yaml(out) == compose(name, root, ("train.mobilenet_v3.lr=2e-3",))
        assert load_params(out).train.mobilenet_v3.lr == 0.002


def test_overlay_mappings_merge_and_lists_replace_whole(tmp_path):
    root = _project(tmp_path)
    (root / "profiles" / "tiny.yaml").write_text(
        "train:\n  mobilenet_v3:\n    schedule: {warmup_steps: 3}\neval:\n  benchmarks: [synth_SVT]\n")
    p = load_profile("tiny", root)
    base = load_params_yaml(root / "profiles" / "base.yaml")
    assert p.train.mobilenet_v3.schedule.warmup_steps == 3
    assert p.train.mobilenet_v3.schedule.name == base["train"]["mobilenet_v3"]["schedule"]["name"]
    assert p.train.mobilenet_v3.lr == base["train"]["mobilenet_v3"]["lr"]
    assert p.eval.benchmarks == ("synth_SVT",)  # not merged item by item with the base's seven


@pytest.mark.parametrize(("overlay", "key"), [
    ("train:\n  mobilenet_v3:\n    lrr: 0.1\n", "train.mobilenet_v3.lrr"),
    ("data:\n  synth: {sead: 1}\n", "data.synth.sead"),
    ("evaluation: {batch_size: 8}\n", "evaluation"),
])
def test_a_key_the_base_lacks_is_refused_naming_key_and_file(tmp_path, overlay, key):
    root = _project(tmp_path)
    (root / "profiles" / "tiny.yaml").write_text(overlay)
    with pytest.raises(ConfigError, match=rf"^profiles/tiny.yaml: {key} is not a setting of profiles/base.yaml"):
        compose("tiny", root)


def test_a_complete_profile_of_before_overlays_is_refused_saying_so(tmp_path):
    root = _project(tmp_path)
    # a complete profile, as the files were before overlays (and as a user's edited copy may still be)
    (root / "profiles" / "tiny.yaml").write_text("profile: tiny\ntrain:\n  mobilenet_v3: {lr: 0.001}\n")
    with pytest.raises(ConfigError, match=r"^profiles/tiny.yaml: has a `profile:` key; a profile is named by its "
                                          r"file and states only what it changes over profiles/base.yaml$"):
        compose("tiny", root)


@pytest.mark.parametrize(("override", "key", "value"), [
    ("train.mobilenet_v3.lr=1e-3", "train.mobilenet_v3.lr", 0.001),  # YAML 1.2 float, as in params.yaml
    ("train.mobilenet_v3.lr=5E-4", "train.mobilenet_v3.lr", 0.0005),
    ("model.backbones=[mobilenet_v3]", "model.backbones", ["mobilenet_v3"]),
    ("data.real.mirror=/srv/mirror", "data.real.mirror", "/srv/mirror"),
    ("train.mobilenet_v3.time_budget_minutes=null", "train.mobilenet_v3.time_budget_minutes", None),
    ("tracking.experiment='1e-3'", "tracking.experiment", "1e-3"),  # quoted: stays a string
])
def test_overrides_set_one_value_parsed_as_params_values(override, key, value):
    assert flatten(to_dict(load_profile("demo", REPO, (override,))))[key] == value


def test_an_unknown_or_malformed_override_is_refused_naming_it():
    with pytest.raises(ConfigError, match=r"^-o train.mobilenet_v3.lrr=1: train.mobilenet_v3.lrr is not a setting"):
        compose("demo", REPO, ("train.mobilenet_v3.lrr=1",))
    with pytest.raises(ConfigError, match=r"^-o lr: expected key.path=value"):
        compose("demo", REPO, ("lr",))


def test_a_string_spelled_like_a_yaml_1_2_float_survives_the_written_file(tmp_path):
    root = _project(tmp_path)
    out = write_profile("tiny", root / "params.yaml", ("tracking.experiment='1e-3'",))
    assert load_params(out).tracking.experiment == "1e-3"


def test_cli_writes_params_and_a_bad_override_is_one_line_leaving_params_as_it_was(tmp_path, capsys):
    root = _project(tmp_path)
    params = root / "params.yaml"
    assert main(["profile", "tiny", "-o", "train.resnet34_vd.max_steps=3", "--params", str(params)]) == 0
    assert load_params(params).train.resnet34_vd.max_steps == 3 and load_params(params).profile == "tiny"
    before = params.read_text(encoding="utf-8")
    assert main(["profile", "demo", "-o", "train.mobilenet_v3.batch_sise=8", "--params", str(params)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["textrec profile: error: -o train.mobilenet_v3.batch_sise=8: train.mobilenet_v3.batch_sise is "
                   "not a setting of profiles/base.yaml (a typo? a setting the base does not list is added there "
                   "first, with its default)"]
    assert params.read_text(encoding="utf-8") == before
