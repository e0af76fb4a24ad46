"""The crnn-pipeline flow's ``profile`` applies to that run only (issue 21): the checkout's params.yaml is
put back when the run ends, failed or not, so a `prefect deployment run ... -p profile=tiny` does not make
every later nightly run tiny."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

import pytest

from pipelines.dvc_tasks import PARAMS_BEFORE_RUN, profile_for_this_run
from tests.pipeline.project import REPO
from textrec.config import load_params
from textrec.profiles import write_profile

LOG = logging.getLogger(__name__)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """profiles/ and params.yaml of the repository (the composed demo profile)."""
    shutil.copytree(REPO / "profiles", tmp_path / "profiles")
    shutil.copy2(REPO / "params.yaml", tmp_path / "params.yaml")
    return tmp_path


def test_the_profile_holds_during_the_run_and_params_yaml_is_put_back_after(checkout):
    before = (checkout / "params.yaml").read_bytes()
    with profile_for_this_run(checkout, "tiny", LOG):
        assert load_params(checkout / "params.yaml").profile == "tiny"
    assert (checkout / "params.yaml").read_bytes() == before
    assert not (checkout / PARAMS_BEFORE_RUN).exists()


def test_a_failed_run_puts_params_yaml_back_too(checkout):
    before = (checkout / "params.yaml").read_bytes()
    with pytest.raises(RuntimeError, match="stage failed"), profile_for_this_run(checkout, "paper", LOG):
        raise RuntimeError("stage failed")
    assert (checkout / "params.yaml").read_bytes() == before


def test_a_run_killed_with_its_profile_in_place_is_undone_by_the_next_run(checkout):
    before = (checkout / "params.yaml").read_bytes()
    # what a SIGKILLed run leaves (no `finally`): its profile in params.yaml, the checkout's beside it
    (checkout / PARAMS_BEFORE_RUN).parent.mkdir(parents=True)
    shutil.copy2(checkout / "params.yaml", checkout / PARAMS_BEFORE_RUN)
    write_profile("tiny", checkout / "params.yaml")
    with profile_for_this_run(checkout, None, LOG):  # a scheduled run without a profile of its own
        assert (checkout / "params.yaml").read_bytes() == before
    assert not (checkout / PARAMS_BEFORE_RUN).exists()


def test_a_second_run_in_the_same_checkout_is_refused_and_changes_nothing(checkout):
    with profile_for_this_run(checkout, "tiny", LOG):
        during = (checkout / "params.yaml").read_bytes()
        with pytest.raises(RuntimeError, match="another crnn-pipeline run is using"), \
                profile_for_this_run(checkout, "paper", LOG):
            pass
        assert (checkout / "params.yaml").read_bytes() == during


def test_the_flow_with_a_profile_leaves_the_checkouts_params_yaml_as_it_was(checkout):
    """The flow's own function (no Prefect server: its run logger disabled), stopped cheaply once the profile
    is in place: pretrain has no ResNet34_vd, so asking for it fails the run before any stage (the message
    shows that the run read the profile's params)."""
    from prefect.logging import disable_run_logger

    from pipelines.crnn_flow import crnn_pipeline

    before = (checkout / "params.yaml").read_bytes()
    with disable_run_logger(), pytest.raises(ValueError, match=re.escape(
            "backbones ['resnet34_vd'] are not in params.yaml model.backbones ['mobilenet_v3']")):
        crnn_pipeline.fn(profile="pretrain", backbones=["resnet34_vd"], project_dir=str(checkout))
    assert (checkout / "params.yaml").read_bytes() == before
    assert not (checkout / PARAMS_BEFORE_RUN).exists()
