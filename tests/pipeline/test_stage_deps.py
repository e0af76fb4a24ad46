"""Every project file a stage's command imports (transitively, imports inside functions included) is one
of the stage's `deps` in dvc.yaml, or inside one, so that DVC re-runs a stage when its code changes; and every
code dep (a .py file or a folder under src/) holds a file it imports, so that it re-runs for nothing else.

The imports are followed with `ast` from the `cmd` script: `textrec.*` modules resolve to files under src/,
parent packages included; package data found the same way (`resources.files("textrec.x")`,
`Path(__file__).with_name(...)`, `Path(__file__).parents[n] / "a" / "b"`) counts too. Imports that never
run are skipped: under `if TYPE_CHECKING:`, and in a module's lazy `__getattr__` (PEP 562) unless a followed
file imports one of that module's lazy names (`from textrec import Recognizer`). A dynamic import
(`importlib.import_module`) in a followed file fails the test: its targets cannot be read from the code.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"


def module_file(name: str) -> Path | None:
    """src/ file of a ``textrec.*`` module (package -> its __init__.py), None for anything else."""
    if name.split(".")[0] != "textrec":
        return None
    base = SRC.joinpath(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _package_of(file: Path) -> str:
    parts = file.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] != "__init__" else parts[:-1])


def _file_parents_path(node: ast.AST, file: Path) -> Path | None:
    """``Path(__file__).resolve().parents[n] / "a" / "b"`` -> the path it names, else None."""
    names: list[str] = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, str)):
            return None
        names.insert(0, node.right.value)
        node = node.left
    if not (names and isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
            and isinstance(node.value, ast.Attribute) and node.value.attr == "parents"
            and any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(node.value))):
        return None
    return file.resolve().parents[node.slice.value].joinpath(*names)


def _runs_on_import(tree: ast.Module) -> tuple[list[ast.AST], list[ast.AST]]:
    """(statements that run when the module is imported or its functions called, the bodies of its lazy
    module ``__getattr__``); ``if TYPE_CHECKING:`` blocks are in neither."""
    eager: list[ast.AST] = []
    lazy: list[ast.AST] = []
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            eager += node.orelse
        elif isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
            lazy.append(node)
        else:
            eager.append(node)
    return eager, lazy


def _lazy_names(tree: ast.Module) -> set[str]:
    """Names a module's ``__getattr__`` serves: the string constants it compares ``name`` with."""
    return {n.value for _, lazy in [_runs_on_import(tree)] for fn in lazy for n in ast.walk(fn)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and n.value.isidentifier()}


def references(file: Path, lazy: bool = False) -> tuple[set[Path], set[Path], list[str]]:
    """(project modules, package data paths, dynamic imports) that ``file`` refers to; with ``lazy``, those
    of its lazy ``__getattr__`` instead."""
    tree = ast.parse(file.read_text(encoding="utf-8"), str(file))
    modules: set[str] = set()
    data: set[Path] = set()
    dynamic: list[str] = []
    eager, lazy_defs = _runs_on_import(tree)
    nodes = [n for top in (lazy_defs if lazy else eager) for n in ast.walk(top)]
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                modules.update(_with_parents(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's own package upwards
                pkg = _package_of(file).split(".")
                base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
            modules.update(_with_parents(base))
            modules.update(f"{base}.{alias.name}" for alias in node.names)  # a submodule, if it is one
            target = module_file(base)
            if target is not None and target != file:  # a name the module serves lazily: its imports run
                served = _lazy_names(ast.parse(target.read_text(encoding="utf-8")))
                if served & {alias.name for alias in node.names}:
                    modules.add(f"{base}.__getattr__")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            arg = node.args[0] if node.args and isinstance(node.args[0], ast.Constant) else None
            if node.func.attr == "import_module":
                dynamic.append(f"{file.relative_to(REPO)}:{node.lineno}")
            elif node.func.attr == "files" and arg is not None and str(arg.value).startswith("textrec"):
                data.add(SRC.joinpath(*str(arg.value).split(".")))
            elif (node.func.attr == "with_name" and arg is not None
                  and any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(node.func.value))):
                data.add(file.with_name(str(arg.value)))
        elif isinstance(node, ast.BinOp) and (p := _file_parents_path(node, file)) is not None:
            data.add(p)
    files = {f for m in modules if (f := module_file(m)) is not None}
    lazy_of = {module_file(m.removesuffix(".__getattr__")) for m in modules if m.endswith(".__getattr__")}
    for target in lazy_of - {None}:
        more, more_data, more_dynamic = references(target, lazy=True)
        files |= more
        data |= more_data
        dynamic += more_dynamic
    return files, data, dynamic


def inert(file: Path) -> bool:
    """A module that cannot change a stage's output: on import it runs nothing but docstrings, ``__future__``
    and ``typing`` imports and dunder constants (``__version__``, ``__all__``); a lazy ``__getattr__`` and
    ``if TYPE_CHECKING:`` do not run (what ``__getattr__`` imports is followed where its names are used)."""
    eager, _ = _runs_on_import(ast.parse(file.read_text(encoding="utf-8")))
    for node in eager:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.ImportFrom) and node.module in ("__future__", "typing"):
            continue
        if (isinstance(node, ast.Assign) and all(re.fullmatch(r"__\w+__", ast.unparse(t)) for t in node.targets)
                and isinstance(node.value, ast.Constant | ast.List | ast.Tuple)):
            continue
        return False
    return True


def closure(script: Path) -> tuple[set[Path], list[str]]:
    """Every project file (modules and package data) ``script`` reaches, and its dynamic imports."""
    seen: set[Path] = set()
    dynamic: list[str] = []
    todo = [script]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.add(f)
        if f.suffix == ".py" and f.is_file():
            modules, data, dyn = references(f)
            todo.extend(modules - seen)
            seen |= data
            dynamic += dyn
    return seen, dynamic


def stages(dvc_yaml: Path = REPO / "dvc.yaml") -> dict[str, dict]:
    return yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]


def uncovered(stage: dict) -> tuple[list[str], list[str]]:
    """(project files the stage's command reaches that no dep covers, dynamic imports met on the way)."""
    script = re.match(r"python (\S+\.py)", stage["cmd"])
    assert script, f"cmd {stage['cmd']!r} is not `python <script>.py ...`"
    deps = [REPO / d for d in stage.get("deps", []) if "${" not in d]  # ${paths.*}: data, not code
    files, dynamic = closure(REPO / script.group(1))
    missing = sorted(str(f.relative_to(REPO)) for f in files
                     if not any(f == d or d in f.parents for d in deps)
                     and not (f.suffix == ".py" and inert(f)))
    return missing, dynamic


def unreached(stage: dict) -> list[str]:
    """Code deps (a .py file, or a folder under src/) that hold no file the stage's command reaches: stale
    after a module moved, and a reason for DVC to re-run the stage for nothing."""
    script = re.match(r"python (\S+\.py)", stage["cmd"])
    files, _ = closure(REPO / script.group(1))
    code = [d for d in stage.get("deps", []) if "${" not in d
            and ((REPO / d).suffix == ".py" or ((REPO / d).is_dir() and (REPO / d).is_relative_to(SRC)))]
    return [d for d in code if not any(f == REPO / d or REPO / d in f.parents for f in files)]


@pytest.mark.parametrize("name", sorted(stages()))
def test_every_imported_project_file_is_a_dep(name):
    missing, dynamic = uncovered(stages()[name])
    assert not dynamic, f"{name}: dynamic imports cannot be followed, list their targets by hand: {dynamic}"
    assert not missing, f"{name}: dvc.yaml deps miss files its command imports: {missing}"


@pytest.mark.parametrize("name", sorted(stages()))
def test_every_code_dep_is_imported(name):
    stale = unreached(stages()[name])
    assert not stale, f"{name}: dvc.yaml deps its command never imports: {stale}"


def test_a_stale_dep_is_caught():
    """The evaluate stage hashes checkpoints with textrec.hashing, not the downloader: listing it is caught."""
    stage = stages()["evaluate"]
    assert unreached(stage | {"deps": [*stage["deps"], "src/textrec/data/download.py"]}) == [
        "src/textrec/data/download.py"]


def test_a_removed_dep_is_caught(tmp_path):
    """The check is not vacuous: without `src/textrec/preprocess.py` the evaluate stage is reported."""
    stage = stages()["evaluate"]
    assert "src/textrec/preprocess.py" in stage["deps"]
    assert uncovered(stage)[0] == []
    stage = stage | {"deps": [d for d in stage["deps"] if d != "src/textrec/preprocess.py"]}
    assert uncovered(stage)[0] == ["src/textrec/preprocess.py"]


def test_prepare_depends_on_the_pins_that_shape_its_data_not_the_whole_lock():
    """stages/prepare.pins is requirements.lock's excerpt (fonts, word list, image codecs), kept current."""
    deps = stages()["prepare"]["deps"]
    assert "stages/prepare.pins" in deps and "requirements.lock" not in deps
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_pins.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    pins = (REPO / "stages" / "prepare.pins").read_text(encoding="utf-8")
    for name in ("wordfreq==", "rendercv-fonts==", "fontpkg-roboto-mono==", "pillow==", "numpy==",
                 "opencv-python-headless=="):
        assert f"\n{name}" in pins
    assert "\nruff==" not in pins and "\nmlflow==" not in pins


def test_lazy_package_attributes_count_only_where_they_are_imported(tmp_path):
    """``textrec/__init__.py`` may serve names lazily (PEP 562): importing ``textrec.config`` runs none of
    that, ``from textrec import <name>`` does."""
    served = sorted(_lazy_names(ast.parse((SRC / "textrec" / "__init__.py").read_text(encoding="utf-8"))))
    if not served:
        pytest.skip("textrec/__init__.py serves nothing lazily")
    plain, lazy = tmp_path / "plain.py", tmp_path / "lazy.py"
    plain.write_text("import textrec.config\n")
    lazy.write_text(f"from textrec import {served[0]}\n")
    extra = closure(lazy)[0] - closure(plain)[0] - {lazy, plain}
    assert extra and all(f.is_relative_to(SRC / "textrec") for f in extra)
    assert inert(SRC / "textrec" / "__init__.py")


def test_the_walker_follows_imports_inside_functions():
    """stages/report.py imports the reporting package only inside main()."""
    files, _ = closure(REPO / "stages" / "report.py")
    assert SRC / "textrec" / "reporting" / "html.py" in files
    assert SRC / "textrec" / "config" / "pipeline.py" in files  # via preflight -> textrec.config
