"""The calibration section: declared with ranges, its method names and file name those of textrec.calibration."""

import re
from typing import get_args

import pytest

from textrec.calibration import FILE_NAME, METHODS
from textrec.config import ConfigError, PathsConfig, parse_params
from textrec.config.calibration import CalibrationMethod
from textrec.config.pipeline import CALIBRATION_NAME


def test_methods_and_file_name_are_the_libraries():
    assert get_args(CalibrationMethod) == ("auto", *METHODS)
    assert CALIBRATION_NAME == FILE_NAME
    assert PathsConfig(exported="E").calibration("mobilenet_v3").as_posix() == "E/mobilenet_v3/calibration.json"


def test_defaults():
    cfg = parse_params({}).calibration
    assert (cfg.method, cfg.target_precision, cfg.bins) == ("auto", 0.99, 15)


@pytest.mark.parametrize(("key", "value", "says"), [
    ("method", "magic", "is not one of"),
    ("target_precision", 0, "in (0, 1]"),
    ("target_precision", 1.5, "in (0, 1]"),
    ("bins", 1, "in [2, 100]"),
    ("folds", 1, "in [2, 20]"),
])
def test_bad_values_are_refused(key, value, says):
    with pytest.raises(ConfigError, match=rf"params\.calibration\.{key}: .*{re.escape(says)}"):
        parse_params({"calibration": {key: value}})
