"""The package's layers (README "Layers"): a module imports from its own layer or the ones below it, never
from a layer above; inside a layer, units may import one another in one direction only (no cycle), so
each layer is a small DAG and the package as a whole is one.

Imports are read with `ast` from the sources (nothing is imported): top-level, inside functions and under
`if TYPE_CHECKING:` alike. `import textrec` alone is not an edge (every import of a submodule runs the
package's `__init__` first); `from textrec import Recognizer` is an import of the package root, which
serves the public API lazily and sits in the top layer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

# Bottom to top. A unit is a module or package under textrec (the longest matching name wins); "" is the
# package root. The prediction log (monitoring's store, fingerprint and hooks) is a data store that
# inference writes to, so it sits below inference, while the rest of monitoring reads through inference.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("charset", "preprocess", "hashing", "ctc", "machine", "runtime", "progress", "config",
                    "preflight", "profiles", "artifacts")),
    ("data and models", ("data", "models", "calibration", "monitoring.store", "monitoring.fingerprint",
                         "monitoring.hooks")),
    ("steps", ("training", "evaluation", "export", "inference")),
    ("services", ("tracking", "reporting", "monitoring", "serving")),
    ("entry points", ("commands", "cli", "")),
]


def unit_of(module: str) -> str | None:
    """The LAYERS unit of ``textrec.<...>`` (``""``: the package root), None if no layer names it."""
    name = module.removeprefix("textrec").removeprefix(".")
    units = [u for _, us in LAYERS for u in us if u and (name == u or name.startswith(u + "."))]
    if units:
        return max(units, key=len)
    return "" if name == "" else None


def layer_of(unit: str) -> int:
    return next(i for i, (_, units) in enumerate(LAYERS) if unit in units)


def module_name(file: Path, src: Path = SRC) -> str:
    parts = file.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(module: str, source: str, is_package: bool, modules: set[str]) -> list[tuple[str, int]]:
    """(imported textrec module, line) for every import statement anywhere in ``source``."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names
                    if a.name.split(".")[0] == "textrec" and a.name != "textrec"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative to the module's package
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "textrec":
                continue
            for a in node.names:  # a submodule if it is one, else a name of ``base``
                sub = f"{base}.{a.name}"
                out.append((sub if sub in modules else base, node.lineno))
    return list(dict.fromkeys(out))  # ``from x import a, b``: one edge


def violations(sources: dict[str, tuple[str, bool]]) -> list[str]:
    """Broken rules in ``{module: (source, is_package)}``: unplaced modules, upward imports, and cycles
    between the units of one layer."""
    modules = set(sources)
    bad: list[str] = [f"{m}: in no layer (add its unit to LAYERS)" for m in sorted(modules) if unit_of(m) is None]
    same_layer: dict[str, dict[str, str]] = {}  # unit -> imported unit of the same layer -> where
    for module, (source, is_package) in sorted(sources.items()):
        src_unit = unit_of(module)
        if src_unit is None:
            continue
        for target, line in imports(module, source, is_package, modules):
            dst_unit = unit_of(target)
            if dst_unit is None or dst_unit == src_unit:
                continue
            a, b = layer_of(src_unit), layer_of(dst_unit)
            where = f"{module}:{line} imports {target}"
            if b > a:
                bad.append(f"{where} ({LAYERS[a][0]} -> {LAYERS[b][0]}: a higher layer)")
            elif a == b:
                same_layer.setdefault(src_unit, {}).setdefault(dst_unit, where)
    bad += [f"cycle in layer {LAYERS[layer_of(c[0])][0]!r}: " + "; ".join(
        same_layer[x][y] for x, y in zip(c, c[1:] + c[:1], strict=True)) for c in _cycles(same_layer)]
    return bad


def _cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(_cycle_in(set(comp), graph))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _cycle_in(comp: set[str], graph: dict[str, dict[str, str]]) -> list[str]:
    """A shortest cycle through the component's first unit (breadth-first inside the component)."""
    start = min(comp)
    came_from: dict[str, str] = {}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph.get(v, {})):
            if w == start:  # back at the start: walk the path back
                path = [v]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if w in comp and w not in came_from:
                came_from[w] = v
                todo.append(w)
    raise AssertionError(f"no cycle through {start} in {sorted(comp)}")  # a component always has one


def package_sources(src: Path = SRC) -> dict[str, tuple[str, bool]]:
    return {module_name(f, src): (f.read_text(encoding="utf-8"), f.name == "__init__.py")
            for f in sorted((src / "textrec").rglob("*.py"))}


def test_no_module_imports_from_a_higher_layer_or_makes_a_cycle_in_its_own():
    assert violations(package_sources()) == []


def test_the_check_catches_upward_imports_inside_functions_and_cycles():
    fake = {
        "textrec.data.a": ("def f():\n    from textrec.evaluation import b\n", False),
        "textrec.evaluation": ("", True),
        "textrec.evaluation.b": ("from textrec.inference.c import x\n", False),
        "textrec.inference.c": ("from ..evaluation import b\nimport textrec\n", False),
        "textrec.models.d": ("from textrec import Recognizer\n", False),
        "textrec.newthing": ("", False),
    }
    got = violations(fake)
    assert "textrec.newthing: in no layer (add its unit to LAYERS)" in got
    assert "textrec.data.a:2 imports textrec.evaluation.b (data and models -> steps: a higher layer)" in got
    assert "textrec.models.d:1 imports textrec (data and models -> entry points: a higher layer)" in got
    cycles = [v for v in got if v.startswith("cycle")]
    assert cycles == ["cycle in layer 'steps': textrec.evaluation.b:1 imports textrec.inference.c; "
                      "textrec.inference.c:1 imports textrec.evaluation.b"]
    assert len(got) == 4  # `import textrec` alone is no edge


def test_every_unit_exists_and_readme_names_the_layers_in_order():
    modules = set(package_sources())
    for _, units in LAYERS:
        for u in units:
            assert not u or f"textrec.{u}" in modules, f"LAYERS names textrec.{u}, which does not exist"
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    para = re.search(r"\*\*Layers\*\*.*?(?:\n\n|\Z)", readme, re.DOTALL)
    assert para, "README has no **Layers** paragraph"
    text = para.group(0)
    positions = [text.find(f"*{name}*") for name, _ in LAYERS]
    assert -1 not in positions and positions == sorted(positions), (positions, text)
