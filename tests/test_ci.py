"""CI runs exactly the README's test command, and that command lints before it tests."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readmes_test_command():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    commands = [line.strip() for line in readme.splitlines() if line.startswith("    bash scripts/setup.sh")]
    [test_command] = [c for c in commands if "pytest" in c]
    assert "-m ruff check . && " in test_command
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == test_command
