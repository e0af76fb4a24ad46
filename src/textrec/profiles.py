"""Profiles: ``profiles/<name>.yaml`` are complete params files; switching copies one onto params.yaml.

params.yaml stays the single source the stages read and DVC tracks; a profile is only a named starting
point. The copy is validated before it replaces params.yaml, so a broken profile never lands.
"""

from __future__ import annotations

import os
from pathlib import Path

from textrec.config import PROFILES


def profile_path(name: str, params_path: Path) -> Path:
    return params_path.resolve().parent / "profiles" / f"{name}.yaml"


def apply_profile(name: str, params_path: Path = Path("params.yaml")) -> Path:
    from textrec.config import load_params

    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; choose one of {list(PROFILES)}")
    src = profile_path(name, params_path)
    if not src.exists():
        raise FileNotFoundError(f"{src} not found (run from the project root)")
    params = load_params(src)  # validates: unknown keys and bad types fail here
    if params.profile != name:
        raise ValueError(f"{src}: declares profile {params.profile!r}, expected {name!r}")
    tmp = params_path.with_name(params_path.name + ".tmp")
    tmp.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    os.replace(tmp, params_path)
    return params_path
