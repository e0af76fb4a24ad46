"""Reading params files: PyYAML's safe loader with two fixes for hand-written params.

- Floats as YAML 1.2 (and DVC, which reads params.yaml with ruamel) spell them: PyYAML follows YAML 1.1,
  where a float needs a dot and a signed exponent, so ``lr: 1e-3`` or ``1E-3`` arrive as the string "1e-3"
  and the config refuses them. Only plain (unquoted) scalars are resolved: ``"1e-3"`` stays a string, and
  integers, ``09`` and the like are left to the YAML 1.1 rules as before.
- A key written twice in one mapping is refused with both line numbers (YAML loaders keep the last one
  silently, so the first edit a user makes may be the one that is ignored).

Only this loader changes; ``yaml.safe_load`` elsewhere (dvc.lock) is untouched. ``dump_params_yaml`` writes
what ``textrec profile`` composes so that this loader reads it back equal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from textrec.config._build import ConfigError

# YAML 1.2 core schema floats that YAML 1.1 reads as strings: an exponent without a dot or without a sign
# (1e-3, 1E3, 1.0e3), or a leading sign before a bare dot (-.5). A dot or an exponent is required, so
# integers (and "09") never match.
_FLOAT_1_2 = re.compile(r"""^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$
                            |^[-+]?[0-9]+[eE][-+]?[0-9]+$""", re.VERBOSE)


class ParamsLoader(yaml.SafeLoader):
    """SafeLoader that also resolves YAML 1.2 float spellings (the class copies the resolver table: the
    SafeLoader shared by every other ``yaml.safe_load`` is not modified)."""


ParamsLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


def _refuse_repeated_keys(node: yaml.Node, path: str, seen_nodes: set[int]) -> None:
    """Walk the composed document; raise on the first mapping that holds a key twice."""
    if id(node) in seen_nodes:  # an alias of a node already checked (or a recursive one)
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        lines: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            where = f"{path}.{name}"
            line = key.start_mark.line + 1
            if name is not None and name in lines:
                raise ConfigError(f"{where}: key written twice, on lines {lines[name]} and {line} "
                                  "(only one is used): keep one")
            if name is not None:
                lines[name] = line
            _refuse_repeated_keys(value, where, seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_repeated_keys(item, f"{path}[{i}]", seen_nodes)


def load_params_yaml(path: Path, root: str = "params") -> Any:
    """The document in ``path`` as plain Python data; ConfigError (one line, no path prefix) for invalid
    YAML or a repeated key, whose dotted name starts with ``root``."""
    with path.open("rb") as f:  # bytes: the reader detects the encoding and reports bad bytes as YAMLError
        loader = ParamsLoader(f)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _refuse_repeated_keys(node, root, set())
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise ConfigError(f"not valid YAML: {e.problem or e.context}{at}") from None
        except yaml.YAMLError as e:
            first = str(e).splitlines() or [type(e).__name__]
            raise ConfigError(f"not valid YAML: {first[0]}") from None
        finally:
            loader.dispose()


class ParamsDumper(yaml.SafeDumper):
    """SafeDumper that knows the YAML 1.2 floats too, so a string spelled like one (``"1e-3"``) is written
    quoted and ``load_params_yaml`` reads it back as the same string; and writes every value out (no
    ``&id001`` anchors where two settings share one object, as a profile's YAML alias leaves them)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


ParamsDumper.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT_1_2, list("-+0123456789."))


def dump_params_yaml(data: Any) -> str:
    """``data`` as params-file text that ``load_params_yaml`` reads back equal: keys in their order, a mapping
    or list of plain values on one line (``{beta1: 0.9, beta2: 0.999}``), as the profiles are written."""
    return yaml.dump(data, Dumper=ParamsDumper, sort_keys=False, default_flow_style=None, width=100,
                     allow_unicode=True)
