"""Strict construction of frozen dataclasses from plain YAML mappings.

Unknown keys, missing keys, wrongly typed values and numbers out of their declared range raise ConfigError
naming the full dotted path, so a typo in params.yaml fails at load time instead of silently falling back to
a default, and a negative learning rate fails before any training. Ranges are declared on the field's type:

    batch_size: PosInt = 256                 # Annotated[int, Range(1)]
    max_steps: PosInt | None = None
    image_shape: tuple[Annotated[int, Range(3, 3)], ...]
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Range:
    """Allowed values of a number, read by the builder from ``Annotated[int, Range(...)]``: ``Range(1)`` is
    >= 1, ``Range(0, 1)`` is [0, 1], ``Range(0, lo_open=True)`` is > 0; None is unbounded. NaN and
    infinities are always out of range (None is the way to say "no limit")."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself is excluded
    hi_open: bool = False

    def __contains__(self, v: float) -> bool:
        return (math.isfinite(v)
                and (self.lo is None or v > self.lo or (v == self.lo and not self.lo_open))
                and (self.hi is None or v < self.hi or (v == self.hi and not self.hi_open)))

    def __str__(self) -> str:
        if self.lo is not None and self.lo == self.hi:
            return f"= {self.lo}"
        if self.hi is None:
            return f"{'>' if self.lo_open else '>='} {self.lo}"
        if self.lo is None:
            return f"{'<' if self.hi_open else '<='} {self.hi}"
        return f"in {'(' if self.lo_open else '['}{self.lo}, {self.hi}{')' if self.hi_open else ']'}"


# The ranges most params need; a field with another range spells out its own Annotated[..., Range(...)].
PosInt = Annotated[int, Range(1)]  # sizes, batch sizes, epochs, step counts, threads
NonNegInt = Annotated[int, Range(0)]  # 0 disables or means none (warm-up steps, workers, retries)
PosFloat = Annotated[float, Range(0, lo_open=True)]  # learning rates, timeouts, tolerances that 0 would break
NonNegFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1)]  # shares, ratios and accuracy differences (accuracy is in [0, 1])
Seed = Annotated[int, Range(0, 2**32 - 1)]  # what numpy and paddle accept


def build(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass ``cls`` from ``data`` (a mapping), recursively and strictly."""
    return _coerce(cls, data, path or cls.__name__)


def _coerce(tp: Any, value: Any, path: str) -> Any:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        hints = get_type_hints(tp, include_extras=True)  # keep Annotated[..., Range]
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {unknown}; allowed: {sorted(fields)}")
        kwargs = {}
        for name, f in fields.items():
            if name in value:
                kwargs[name] = _coerce(hints[name], value[name], f"{path}.{name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{path}: missing required key {name!r}")
        try:
            return tp(**kwargs)
        except ValueError as exc:  # a section's own consistency check (__post_init__)
            raise ConfigError(f"{path}: {exc}") from exc
    if origin is Annotated:
        base, *meta = get_args(tp)
        coerced = _coerce(base, value, path)
        for m in meta:
            if isinstance(m, Range) and coerced is not None and coerced not in m:
                raise ConfigError(f"{path}: {value!r} is out of range, must be {m}")
        return coerced
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{path}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, path)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError("; ".join(errors) or f"{path}: bad value {value!r}")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}: expected a list, got {type(value).__name__}")
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{path}: expected {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {type(value).__name__}")
        kt, vt = get_args(tp)
        return {_coerce(kt, k, f"{path}.{k}"): _coerce(vt, v, f"{path}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path}: expected a number, got {value!r}{_quoted_number_hint(value)}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected an integer, got {value!r}{_quoted_number_hint(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: expected a string, got {value!r}")
        return value
    if tp is Any:
        return value
    raise ConfigError(f"{path}: unsupported config type {tp!r}")


def _quoted_number_hint(value: Any) -> str:
    """A string that reads as a number was quoted in the YAML (``lr: "1e-3"``): say so."""
    if not isinstance(value, str):
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return " (a quoted string: write the number without quotes)"


def to_dict(obj: Any) -> Any:
    """Frozen config -> plain dict (for logging params to MLflow, writing run metadata)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists are kept as values."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
