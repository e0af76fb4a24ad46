"""The file format every stage output shares: a frozen dataclass written as one JSON object with a
``schema_version``, read back strictly.

``write`` is atomic (a killed stage leaves the previous file or none, never half of one). ``read`` refuses,
in one line naming the file, a file of another schema version, a missing or unknown key and a value of the
wrong type: a field renamed in one dataclass fails at the first read of an old file, not six readers later.
Nested dataclasses, ``list``/``tuple``/``dict`` of them and ``X | None`` are decoded by the field's type
hint; ``Any`` passes as it is (blocks whose layout another module owns, such as a sample's rejection counts).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

T = TypeVar("T")
OMIT_NONE = {"omit_none": True}  # field metadata: a None value is left out of the file (an optional block)


class ArtifactError(ValueError):
    """A stage output that cannot be read as its dataclass; the message is one line naming the file."""


class ArtifactMissing(ArtifactError, FileNotFoundError):
    """The file is not there (the stage that writes it did not run)."""


@dataclasses.dataclass(frozen=True)
class Artifact:
    """Base of the stage outputs. Subclasses set ``SCHEMA_VERSION`` (bump it when a field changes meaning or
    name) and ``STAGE`` (the DVC stage that writes the file: what the user re-runs when it is stale)."""

    SCHEMA_VERSION: ClassVar[int] = 1
    STAGE: ClassVar[str] = ""

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": self.SCHEMA_VERSION, **_encode(self)}

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: str | Path, stage: str | None = None) -> Self:
        """``stage``: the stage that writes this very file (``evaluate@mobilenet_v3-IC15``), for the message;
        default ``STAGE``, the stage's name."""
        path, stage = Path(path), stage or cls.STAGE
        rerun = f"run `dvc repro {stage}` to write it again" if stage else "write it again"
        if not path.is_file():
            raise ArtifactMissing(f"{path}: not found; {rerun}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ArtifactError(f"{path}: not JSON ({e}); {rerun}") from None
        if not isinstance(data, dict):
            raise ArtifactError(f"{path}: expected a JSON object; {rerun}")
        version = data.pop("schema_version", None)
        if version != cls.SCHEMA_VERSION:
            raise ArtifactError(f"{path}: schema_version {version} where {cls.__name__} reads "
                                f"{cls.SCHEMA_VERSION} (written by other code); {rerun}")
        try:
            return _decode_dataclass(cls, data, "")
        except ArtifactError as e:
            raise ArtifactError(f"{path}: {e}; {rerun}") from None


def from_json(cls: type[T], data: Any, where: str = "") -> T:
    """``data`` (a parsed JSON object) as the dataclass ``cls``, checked as ``Artifact.read`` checks a file's
    fields; ArtifactError names the first bad key."""
    return _decode(data, cls, where)


def to_json(value: Any) -> Any:
    """A dataclass (or list/dict of them) as plain JSON values, as ``Artifact.write`` writes it."""
    return _encode(value)


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)
                if not (f.metadata.get("omit_none") and getattr(value, f.name) is None)}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, Path):
        return value.as_posix()
    return value


def _decode_dataclass(cls: type[T], data: dict[str, Any], where: str) -> T:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ArtifactError(f"unknown key(s) {unknown} in {where or cls.__name__} (not a field of {cls.__name__})")
    kwargs = {}
    for name, f in fields.items():
        at = f"{where}.{name}" if where else name
        if name in data:
            kwargs[name] = _decode(data[name], hints[name], at)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ArtifactError(f"missing key {at!r} ({cls.__name__} field)")
    return cls(**kwargs)


def _decode(value: Any, hint: Any, at: str) -> Any:  # noqa: PLR0911 - one return per kind of type
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _decode(value, inner[0], at)
        for a in inner:  # e.g. int | str: the first that fits
            try:
                return _decode(value, a, at)
            except ArtifactError:
                continue
        raise ArtifactError(f"{at}: {value!r} is none of {hint}")
    if origin is typing.Literal:
        if value not in args:
            raise ArtifactError(f"{at}: {value!r} is not one of {list(args)}")
        return value
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ArtifactError(f"{at}: expected an object ({hint.__name__}), got {value!r}")
        return _decode_dataclass(hint, value, at)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ArtifactError(f"{at}: expected a list, got {value!r}")
        item = args[0] if args else Any  # list[X] and tuple[X, ...]
        return origin(_decode(v, item, f"{at}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ArtifactError(f"{at}: expected an object, got {value!r}")
        return {k: _decode(v, args[1], f"{at}.{k}") for k, v in value.items()}
    if hint is float:  # JSON writes 1.0 as 1.0 but a count-like 1 is a valid float too
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ArtifactError(f"{at}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
