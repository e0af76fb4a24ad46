"""What DVC compares across experiments: reports/metrics.json (the report stage's headline) is the only file
under `metrics:`, `dvc metrics show` lists only it although the stages' JSONs are there, README's `dvc exp show`
command fits in 200 columns with every headline column, and `dvc params diff` shows a changed param."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from tests.artifacts_kit import eval_result, quantize_result
from tests.pipeline.project import dvc
from textrec.artifacts import Timing
from textrec.config import BACKBONES, EvalConfig, PathsConfig, load_params
from textrec.reporting.collect import BackboneResults, accuracy_table
from textrec.reporting.headline import METRICS, headline

REPO = Path(__file__).resolve().parents[2]
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
# An experiment row reads "└── 1a2b3c4 [name]" where the workspace row reads "workspace": with a 20-character
# name the Experiment column grows by 24 (DVC's generated names, two words, are about 10).
EXPERIMENT_ROW = 24


def test_the_headline_is_the_only_metrics_file() -> None:
    declared = [(name, next(iter(e)) if isinstance(e, dict) else e)
                for name, stage in STAGES.items() for e in stage.get("metrics", [])]
    assert declared == [("report", "${paths.reports}/metrics.json")]
    assert PathsConfig(reports="R").headline_metrics() == Path("R/metrics.json")


def _headline() -> dict:
    """The demo's numbers through the real function: 7 benchmarks, both backbones, INT8 timings."""
    benches = tuple(f"synth_{b}" for b in EvalConfig().benchmarks)
    results = []
    for bb, acc, ms in (("mobilenet_v3", 0.92345, 2.4137), ("resnet34_vd", 0.0, 109.9123)):
        q = replace(quantize_result(tuple((b, acc, max(0.0, acc - 0.001)) for b in benches)),
                    max_accuracy_drop=0.0045, speed=[Timing("onnx_int8", 1, ms, ms, ms, 7, ms)])
        evals = {b: eval_result(b, acc, count=200, backbone=bb) for b in benches}
        results.append(BackboneResults(bb, eval=evals, quantize=q))
    return headline(results, accuracy_table(results, benches))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """A git + DVC repo with the project's dvc.yaml and params.yaml, the headline and two stage JSONs as the
    stages write them (prepare's font inventory: the columns that made `dvc exp show` unusable), committed;
    then one param changed in the workspace."""
    root = tmp_path_factory.mktemp("exp")
    for f in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / f, root / f)
    paths = load_params(root / "params.yaml").paths
    files = {paths.headline_metrics(): _headline(), paths.validation_report(): {"success": True, "checks": 12},
             paths.prepare_report(): {"source": "synthetic", "fonts": {"licences": {"OFL-1.1": 599, "Apache-2.0": 9},
                                                                       "files": 628}}}
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(json.dumps(data))
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
    dvc(["init", "-q"], root)
    params = (root / "params.yaml").read_text(encoding="utf-8")
    (root / "params.yaml").write_text(params.replace("    lr: 0.0005", "    lr: 0.002", 1), encoding="utf-8")
    return root


def _readme_command() -> list[str]:
    m = re.search(r"^\s+\.venv/bin/dvc (exp show .+)$", (REPO / "README.md").read_text(encoding="utf-8"), re.M)
    assert m, "README shows no `dvc exp show` command"
    return shlex.split(m.group(1))


def test_readme_exp_show_command_fits_in_200_columns_with_every_headline_column(repo) -> None:
    out = dvc(_readme_command(), repo).stdout
    lines = out.splitlines()
    header = next(line for line in lines if "Experiment" in line).split()
    assert header == ["Experiment", *(f"{m}.{bb}" for m in METRICS for bb in BACKBONES)]
    assert any(re.match(r"\s*workspace\s+0\.9234\s", line) for line in lines), out  # values, not just names
    assert max(map(len, lines)) + EXPERIMENT_ROW <= 200, out


def test_metrics_show_lists_only_the_headline(repo) -> None:
    shown = json.loads(dvc(["metrics", "show", "--json"], repo).stdout)
    files = {f for rev in shown.values() for f in rev.get("data", {})}
    assert files == {"reports/metrics.json"}


def test_params_diff_shows_the_changed_param(repo) -> None:
    out = dvc(["params", "diff"], repo).stdout
    assert re.search(r"train\.mobilenet_v3\.lr\s+0\.0005\s+0\.002", out), out
