"""Profiles: ``profiles/base.yaml`` holds the settings every profile starts from, ``profiles/<name>.yaml``
states only what that profile changes, and ``textrec profile NAME [-o key.path=value ...]`` composes base,
profile and overrides into params.yaml (PaddleOCR's ``-o Section.key=value`` habit).

params.yaml stays the single source the stages read and DVC tracks, written out in full: the effective
config is always in one file. Composing is a deep merge: mappings merge key by key, anything else (lists
included) replaces the base's value whole. A key the base does not have is refused, naming the key and the
file (or ``-o``) it came from: a typo must not pass silently, nor a setting the base does not list.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from textrec.config import PROFILES, ConfigError, Params

BASE = "base"  # profiles/base.yaml: not a profile itself, every profile's starting point


def profiles_dir(root: Path) -> Path:
    return root / "profiles"


def _read(path: Path) -> dict[str, Any]:
    from textrec.config._yaml import load_params_yaml

    if not path.exists():
        raise ConfigError(f"{path}: not found (run from the project root)")
    try:
        data = load_params_yaml(path) or {}
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    return data


def merge(base: dict[str, Any], overlay: dict[str, Any], source: str, prefix: str = "") -> dict[str, Any]:
    """``base`` with ``overlay`` on top (neither is modified); ``source`` names the overlay in errors."""
    out = dict(base)
    for key, value in overlay.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            raise ConfigError(f"{source}: {dotted} is not a setting of profiles/{BASE}.yaml (a typo? a setting "
                              f"the base does not list is added there first, with its default)")
        if isinstance(value, dict) and isinstance(base[key], dict):
            out[key] = merge(base[key], value, source, f"{dotted}.")
        else:
            out[key] = value
    return out


def parse_override(text: str) -> dict[str, Any]:
    """``train.mobilenet_v3.lr=1e-3`` -> ``{"train": {"mobilenet_v3": {"lr": 0.001}}}``; the value is read
    as params.yaml's values are (YAML, ``1e-3`` a float; ``[a, b]`` a list, which replaces the base's)."""
    import yaml

    from textrec.config._yaml import ParamsLoader

    dotted, sep, raw = text.partition("=")
    parts = dotted.strip().split(".")
    if not sep or not all(parts):
        raise ConfigError(f"-o {text}: expected key.path=value, e.g. -o train.mobilenet_v3.lr=1e-3")
    try:
        value = yaml.load(raw, Loader=ParamsLoader)  # noqa: S506 -- ParamsLoader is a SafeLoader
    except yaml.YAMLError as e:
        raise ConfigError(f"-o {text}: the value is not valid YAML ({getattr(e, 'problem', None) or e})") from None
    for part in reversed(parts):
        value = {part: value}
    return value


def compose(name: str, root: Path, overrides: tuple[str, ...] = ()) -> dict[str, Any]:
    """The params of profile ``name`` (base, then profiles/<name>.yaml, then each ``-o`` override), as plain
    data in the base's key order; not validated (``load_profile`` is)."""
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {list(PROFILES)}")
    folder = profiles_dir(root)
    overlay = _read(folder / f"{name}.yaml")
    if "profile" in overlay:  # a complete profile of before overlays (its file is its name)
        raise ConfigError(f"profiles/{name}.yaml: has a `profile:` key; a profile is named by its file and states "
                          f"only what it changes over profiles/{BASE}.yaml")
    data = merge(_read(folder / f"{BASE}.yaml"), overlay, f"profiles/{name}.yaml")
    for text in overrides:
        data = merge(data, parse_override(text), f"-o {text}")
    return {"profile": name, **data}


def _validated(name: str, data: dict[str, Any]) -> Params:
    from textrec.config import parse_params

    try:
        return parse_params(data)
    except ConfigError as e:
        raise ConfigError(f"profile {name}: {e}") from None


def load_profile(name: str, root: Path, overrides: tuple[str, ...] = ()) -> Params:
    """The composed profile as the stages will read it: unknown keys and bad values fail here."""
    return _validated(name, compose(name, root, overrides))


def render(name: str, overrides: tuple[str, ...], data: dict[str, Any]) -> str:
    """params.yaml's text: a header saying what produced it, then every setting."""
    from textrec.config._yaml import dump_params_yaml

    command = shlex.join(["textrec", "profile", name, *(a for o in overrides for a in ("-o", o))])
    made_of = f"profiles/{BASE}.yaml + profiles/{name}.yaml" + (" + the -o overrides" if overrides else "")
    header = (f"# Written by `{command}`: {made_of}.\n"
              "# The stages read this file and DVC tracks it; what each setting means, and why a profile chooses\n"
              "# it, is said in those files. Change them and run the command again (an edit here lasts until the\n"
              "# next `textrec profile`).\n")
    return header + dump_params_yaml(data)


def write_profile(name: str, params_path: Path = Path("params.yaml"), overrides: tuple[str, ...] = ()) -> Path:
    """Compose profile ``name`` into ``params_path`` (the profiles/ beside it). Validated first and replaced
    atomically, so a broken profile or override never lands."""
    root = params_path.resolve().parent
    data = compose(name, root, overrides)
    _validated(name, data)  # unknown keys and bad values fail here, before params.yaml is touched
    tmp = params_path.with_name(params_path.name + ".tmp")
    tmp.write_text(render(name, overrides, data), encoding="utf-8")
    os.replace(tmp, params_path)
    return params_path
