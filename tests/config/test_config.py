import pytest

from textrec.config import ConfigError, flatten, load_params, parse_params, to_dict


def test_defaults_are_paddleocr_recipe():
    r = parse_params({}).train.recipe("mobilenet_v3")
    assert (r.lr, r.batch_size, r.epochs, r.optimizer.beta1, r.optimizer.beta2, r.optimizer.weight_decay,
            r.schedule.name, r.augment) == (5e-4, 256, 72, 0.9, 0.999, 0.0, "constant", False)


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
