"""A script of the repository (``stages/``, ``scripts/``: folders of scripts, not packages) as a module, to
call its ``main`` or its functions in the test's process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(rel: str) -> ModuleType:
    """``REPO / rel`` executed as a new module (a test may patch it freely), under the name ``stages_train``
    for ``stages/train.py``; registered in ``sys.modules`` because dataclasses look their module up there."""
    path = REPO / rel
    name = "_".join(Path(rel).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path}: not a Python script")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def stage_main(name: str):
    """``main`` of ``stages/<name>.py``."""
    return load_script(f"stages/{name}.py").main
