import dataclasses
import re
import shutil
import types
import typing
from pathlib import Path
from typing import Annotated, get_args, get_origin, get_type_hints

import pytest
import yaml

from textrec.config import ConfigError, Params, flatten, load_params, parse_params, to_dict
from textrec.config._build import Range

REPO = Path(__file__).resolve().parents[2]


def test_defaults_are_paddleocr_recipe():
    r = parse_params({}).train.recipe("mobilenet_v3")
    assert (r.lr, r.batch_size, r.epochs, r.optimizer.beta1, r.optimizer.beta2, r.optimizer.weight_decay,
            r.schedule.name, r.augment) == (5e-4, 256, 72, 0.9, 0.999, 0.0, "constant", ())


def test_typed_and_frozen():
    p = parse_params({"train": {"mobilenet_v3": {"lr": 1, "batch_size": 64}}})
    assert p.train.mobilenet_v3.lr == 1.0 and isinstance(p.train.mobilenet_v3.lr, float)
    with pytest.raises(AttributeError):
        p.train.mobilenet_v3.lr = 2.0  # type: ignore[misc]


@pytest.mark.parametrize(("data", "message"), [
    ({"train": {"mobilenet_v3": {"lrr": 1}}}, r"params.train.mobilenet_v3: unknown key\(s\) \['lrr'\]"),
    ({"model": {"backbones": ["vgg"]}}, r"params.model.backbones\[0\]: 'vgg' is not one of"),
    ({"train": {"resnet34_vd": {"batch_size": "64"}}}, "expected an integer"),
    ({"train": {"resnet34_vd": {"amp": 1}}}, "expected true/false"),
    ({"profile": "fast"}, "is not one of"),
    ({"train": {"mobilenet_v3": {"batch_size": 64, "processes": 3}}}, "processes must be >= 1 and divide"),
])
def test_bad_params_fail_with_dotted_path(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_params(data)


def test_load_and_flatten(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("profile: tiny\ntrain:\n  mobilenet_v3:\n    lr: 0.002\n")
    p = load_params(f)
    flat = flatten(to_dict(p))
    assert flat["profile"] == "tiny" and flat["train.mobilenet_v3.lr"] == 0.002
    assert flat["model.backbones"] == ["mobilenet_v3", "resnet34_vd"]
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "missing.yaml")


def test_shipped_params_and_profiles_load():
    from textrec.config import PROFILES
    from textrec.profiles import load_profile

    load_params(REPO / "params.yaml")
    for name in PROFILES:  # profiles/<name>.yaml over profiles/base.yaml (tests/config/test_profiles.py)
        load_profile(name, REPO)


# What a user tried (issue 10): each ran for minutes or forever, or trained a broken model, and exited 0.
@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("train.mobilenet_v3.lr", -1, "> 0"),
    ("train.mobilenet_v3.max_steps", -5, ">= 0"),  # 0: evaluate the initial weights (init not scratch)
    ("train.mobilenet_v3.batch_size", -8, ">= 1"),
    ("train.resnet34_vd.batch_size", 0, ">= 1"),
    ("train.mobilenet_v3.epochs", 0, ">= 1"),
    ("data.validation.max_rejected_fraction", 7, "in [0, 1]"),
    ("promotion.max_int8_drop", -1, "in [0, 1]"),
    ("model.image_shape[2]", -100, ">= 4"),
    ("quantize.calibration_images", 0, ">= 1"),
    # and a few of the others
    ("train.resnet34_vd.optimizer.beta2", 1.0, "in [0, 1)"),
    ("train.mobilenet_v3.time_budget_minutes", float("inf"), "> 0"),
    ("model.image_shape[1]", 64, "= 32"),
    ("export.opset", 9, "in [13, 21]"),
    ("data.synth.seed", -1, "in [0, 4294967295]"),
])
def test_out_of_range_params_fail_at_load_naming_key_and_range(tmp_path, key, value, allowed):
    data = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    *parents, last = key.split(".")
    node = data
    for k in parents:
        node = node[k]
    m = re.fullmatch(r"(\w+)\[(\d)\]", last)
    if m:  # a list item: model.image_shape[2]
        node[m[1]][int(m[2])] = value
    else:
        node[last] = value
    f = tmp_path / "params.yaml"
    f.write_text(yaml.safe_dump(data))
    message = f"{f}: params.{key}: {value!r} is out of range, must be {allowed}"
    with pytest.raises(ConfigError, match=re.escape(message) + "$"):
        load_params(f)


@pytest.mark.parametrize(("data", "message"), [
    ({"data": {"synth": {"min_len": 5, "max_len": 3}}}, "params.data.synth: min_len 5 is above max_len 3"),
    ({"data": {"synth": {"mix_lexicon": 0, "mix_random": 0, "mix_number": 0}}}, "params.data.synth: mix_"),
    ({"data": {"validation": {"min_width": 50, "max_width": 40}}}, "params.data.validation: min_width"),
    ({"train": {"mobilenet_v3": {"lr": float("nan")}}}, r"params.train.mobilenet_v3.lr: nan is out of range"),
    ({"quantize": {"timing_batch_sizes": [8, 64]}}, r"params.quantize: timing_batch_sizes \[8, 64\] must include 1"),
])
def test_inconsistent_params_fail_at_load(data, message):
    with pytest.raises(ConfigError, match=message):
        parse_params(data)


def test_range_bounds_are_inclusive_unless_open():
    assert 0 in Range(0, 1) and 1 in Range(0, 1) and 0 not in Range(0, lo_open=True)
    assert 1 not in Range(0, 1, hi_open=True) and 0.999 in Range(0, 1, hi_open=True)
    assert 5 in Range() and float("inf") not in Range()


def _numbers_without_range(tp, path: str) -> list[str]:
    """Dotted paths of int/float params (anywhere in the config tree) whose type declares no Range."""
    if get_origin(tp) is Annotated:
        return [] if any(isinstance(m, Range) for m in get_args(tp)[1:]) else [path]
    if dataclasses.is_dataclass(tp):
        hints = get_type_hints(tp, include_extras=True)
        return [p for f in dataclasses.fields(tp)
                for p in _numbers_without_range(hints[f.name], f"{path}.{f.name}")]
    if get_origin(tp) in (typing.Union, types.UnionType, tuple, dict):
        return [p for i, a in enumerate(get_args(tp)) if a not in (type(None), Ellipsis)
                for p in _numbers_without_range(a, f"{path}[{i}]" if get_origin(tp) is tuple else path)]
    return [path] if tp in (int, float) else []


def test_every_numeric_param_declares_its_range():
    # a new numeric field needs e.g. ``PosInt`` / ``Fraction`` (textrec.config._build) or its own Range
    assert _numbers_without_range(Params, "params") == []


def test_profile_switch_refuses_an_out_of_range_profile(tmp_path, capsys):
    from textrec.cli import main

    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    tiny = (REPO / "profiles" / "tiny.yaml").read_text(encoding="utf-8")
    bad = tiny.replace("calibration_images: 8", "calibration_images: 0")
    assert bad != tiny
    (tmp_path / "profiles" / "tiny.yaml").write_text(bad, encoding="utf-8")
    (tmp_path / "params.yaml").write_text("profile: demo\n", encoding="utf-8")
    assert main(["profile", "tiny", "--params", str(tmp_path / "params.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("textrec profile: error: ")
    assert err[0].endswith("params.quantize.calibration_images: 0 is out of range, must be >= 1")
    assert (tmp_path / "params.yaml").read_text(encoding="utf-8") == "profile: demo\n"  # left as it was


def _params_file(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "params.yaml"
    f.write_text(text, encoding="utf-8")
    return f


# issue 19: YAML 1.1 (PyYAML) reads 1e-3 as a string; users write it that way, and DVC (YAML 1.2) reads a float
@pytest.mark.parametrize("text", ["1e-3", "1.0e-3", ".001", "1E-3", "+1e-3", "1.0e3", "5E+2"])
def test_float_spellings_load_as_numbers(tmp_path, text):
    f = _params_file(tmp_path, f"train:\n  mobilenet_v3:\n    lr: {text}\n")
    assert load_params(f).train.mobilenet_v3.lr == float(text)


def test_only_plain_float_spellings_become_numbers(tmp_path):
    # quoted: still a string, refused where a number is expected (with a hint), kept where a string is
    f = _params_file(tmp_path, 'train:\n  mobilenet_v3:\n    lr: "1e-3"\n')
    message = f"{f}: params.train.mobilenet_v3.lr: expected a number, got '1e-3' (a quoted string: "
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_params(f)
    f = _params_file(tmp_path, "paths: {models: '1e3', reports: 09, exported: 1_0e3}\n")
    p = load_params(f).paths
    assert (p.models, p.reports, p.exported) == ("1e3", "09", "1_0e3")  # YAML 1.1 strings stay strings
    f = _params_file(tmp_path, "train:\n  mobilenet_v3:\n    batch_size: 1e3\n")  # an integer is an integer
    with pytest.raises(ConfigError, match=r"batch_size: expected an integer, got 1000\.0$"):
        load_params(f)
    # the loader's float rule is its own: the shared SafeLoader (dvc.lock, benches) is unchanged
    assert yaml.safe_load("lr: 1e-3") == {"lr": "1e-3"}


@pytest.mark.parametrize(("text", "key", "lines"), [
    ("profile: tiny\nmodel: {}\nprofile: demo\n", "params.profile", (1, 3)),
    ("train:\n  mobilenet_v3:\n    lr: 0.001\n    batch_size: 8\n    lr: 0.002\n", "params.train.mobilenet_v3.lr",
     (3, 5)),
    ("train: {resnet34_vd: {lr: 1, lr: 2}}\n", "params.train.resnet34_vd.lr", (1, 1)),  # flow style
    ("data:\n  folder:\n    test:\n      - {name: a, src: a.txt}\n      - name: b\n        src: b.txt\n"
     "        name: c\n", "params.data.folder.test[1].name", (5, 7)),  # inside a list
    ("train:\n  mobilenet_v3: {lr: 1}\ntrain:\n  resnet34_vd: {lr: 2}\n", "params.train", (1, 3)),  # a section
])
def test_repeated_key_is_refused_naming_it_and_both_lines(tmp_path, text, key, lines):
    f = _params_file(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_params(f)
    assert str(exc.value) == (f"{f}: {key}: key written twice, on lines {lines[0]} and {lines[1]} "
                              "(only one is used): keep one")


def test_invalid_yaml_is_one_line(tmp_path):
    f = _params_file(tmp_path, "train:\n  mobilenet_v3: {lr: 1\n")
    with pytest.raises(ConfigError) as exc:
        load_params(f)
    assert str(exc.value).startswith(f"{f}: not valid YAML: ") and "\n" not in str(exc.value)
    assert "line 3" in str(exc.value)
