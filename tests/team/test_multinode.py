"""Training across machines: `python -m paddle.distributed.launch --ips <node0>,<node1>` with the train stage,
as two nodes on one machine. Paddle refuses 127.0.0.1 in a multi-node --ips list and finds each node's rank by
its address, so the two nodes are 127.0.0.2 and 127.0.0.3 (loopback too), each named by --host, each in a
directory of its own with the same data, as two machines after `dvc pull` would be. CPU: gloo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.servers import free_port
from tests.training.wordimages import write_project

pytestmark = pytest.mark.timeout(600)
REPO = Path(__file__).resolve().parents[2]
NODES = ("127.0.0.2", "127.0.0.3")
RECIPE = {"epochs": 100, "max_steps": 4, "batch_size": 4, "lr": 1e-3, "checkpoint_every_steps": 0,
          "eval_every_steps": 0, "log_every_steps": 1, "device": "cpu", "seed": 3}


def _node(root: Path) -> Path:
    params = write_project(root, 16, 4, RECIPE)
    # rank 0 alone would create the MLflow store before its first step, with rank 1 waiting in gloo meanwhile
    params.write_text(params.read_text() + "tracking: {live: false}\n")
    return root


def test_the_train_stage_runs_as_two_nodes(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    procs = []
    for host in NODES:
        cwd = _node(tmp_path / host)
        cmd = [sys.executable, "-m", "paddle.distributed.launch", "--ips", ",".join(NODES), "--host", host,
               "--start_port", str(port), "--nproc_per_node", "1", "--log_dir", "log",
               str(REPO / "stages" / "train.py"), "--backbone", "mobilenet_v3", "--params", "params.yaml",
               "--no-progress", "--fresh"]
        procs.append(subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True, start_new_session=True))
    outs = [p.communicate(timeout=540)[0] for p in procs]
    for host, p, out in zip(NODES, procs, outs, strict=True):
        log = (tmp_path / host / "log" / "workerlog.0").read_text(errors="replace")
        assert p.returncode == 0, f"node {host}:\n{out[-2000:]}\n{log[-3000:]}"

    node0, node1 = (tmp_path / h for h in NODES)
    summary = json.loads((node0 / "reports" / "train" / "mobilenet_v3" / "train.json").read_text())
    assert summary["world_size"] == 2 and summary["rank"] == 0 and summary["steps"] == 4
    assert (node0 / "models" / "mobilenet_v3" / "latest.pdparams").stat().st_size > 0
    # node 1 trained as rank 1 of the same job and, not being rank 0, wrote no checkpoint
    env1 = (node1 / "log" / "envlog.0").read_text()
    assert "PADDLE_GLOBAL_RANK=1" in env1 and f"PADDLE_TRAINER_ENDPOINTS={NODES[0]}:{port},{NODES[1]}:{port}" in env1
    assert not (node1 / "models" / "mobilenet_v3" / "latest.pdparams").exists()
