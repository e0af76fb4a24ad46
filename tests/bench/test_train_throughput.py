"""bench/train_throughput.py times the trainer's own optimizer: the one ``build_optimizer`` makes for the
recipe in --params, not an Adam of its own."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from tests.bench.test_real_dev import _bench
from tests.conftest import REPO


def _params_with(tmp_path: Path, lr: float) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["train"]["mobilenet_v3"]["lr"] = lr
    path = tmp_path / f"params_{lr}.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _worker(params: Path, warmup: int) -> dict:
    bench = _bench("train_throughput")
    args = argparse.Namespace(config="baseline", backbone="mobilenet_v3", batch_size=4, warmup=warmup, steps=1,
                              repeats=1, data=None, params=params)
    return bench.run_worker(args)


@pytest.mark.timeout(600)
def test_steps_follow_the_recipes_learning_rate(tmp_path: Path) -> None:
    # lr ~0: the weights stay put, so the loss of the same batch after 3 more steps is the same; a bench
    # with its own lr (5e-4) would have moved them
    frozen = _params_with(tmp_path, 1e-12)
    first, later = _worker(frozen, warmup=0), _worker(frozen, warmup=3)
    assert first["last_loss"] == later["last_loss"]
    assert first["optimizer"]["lr"] == 1e-12
    moving = _worker(_params_with(tmp_path, 0.05), warmup=3)
    assert moving["last_loss"] != first["last_loss"]  # the same batch and seed: the recipe's lr moved it
    recipe = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))["train"]["mobilenet_v3"]
    assert {k: moving["optimizer"][k] for k in recipe["optimizer"]} == recipe["optimizer"]
