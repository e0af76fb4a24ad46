"""The `textrec` command line as a whole: help on every argument, --version, output cut short by its reader
(`textrec predict --json DIR | head -3`), no third-party warning in what a command prints."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from importlib.metadata import version

import pytest

from textrec.cli import build_parser, main


def _arguments(parser: argparse.ArgumentParser, command: str):
    """(command, argument, help) for every argument of ``parser`` and of its sub-commands, recursively;
    a sub-command's own entry in its parent's list is an argument of the parent too."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield command, name, helps.get(name)
                yield from _arguments(sub, f"{command} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield command, "/".join(action.option_strings) or action.dest, action.help


def test_every_argument_of_every_command_has_help():
    missing = [f"{cmd}: {arg}" for cmd, arg, text in _arguments(build_parser(), "textrec") if not text]
    assert not missing, "arguments without help:\n" + "\n".join(missing)


def test_version_is_the_installed_distributions(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"textrec {version('textrec')}\n"


def _to_closed_pipe(args: list[str]) -> subprocess.CompletedProcess:
    """Run ``textrec args`` with stdout a pipe whose reader has already gone (what `| head` leaves once it
    has read its lines; closing it before the command writes makes the test independent of timing)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "textrec.cli", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, timeout=240)
    finally:
        os.close(write)


def _quiet(stderr: str) -> bool:
    """No traceback nor Python's "Exception ignored" note (other lines, e.g. a model's notice, may be there)."""
    return not any(word in stderr for word in ("Traceback", "BrokenPipeError", "Exception ignored"))


# (--help and --version need nothing: argparse drops an OSError of its own output and exits 0)
@pytest.mark.parametrize("args", [["predict", "--json", "IMAGES"], ["predict", "IMAGES"]], ids=["json", "tsv"])
def test_output_whose_reader_has_gone_ends_quietly_with_sigpipe_status(args, parity_kit):
    """Status 141 (128 + SIGPIPE), as a shell reports `seq 1000000 | head -3`, and no traceback."""
    proc = _to_closed_pipe([str(parity_kit / "images") if a == "IMAGES" else a for a in args])
    assert _quiet(proc.stderr) and proc.returncode == 141, proc.stderr


def test_predict_into_head_prints_its_lines_and_no_traceback(parity_kit):
    """The issue's command line as a shell runs it (with pipefail, so the status is textrec's)."""
    cmd = f"set -o pipefail; {sys.executable} -m textrec.cli predict --json {parity_kit / 'images'} | head -3"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=240)
    assert len(proc.stdout.splitlines()) == 3 and _quiet(proc.stderr), proc.stderr
    assert proc.returncode in (0, 141)  # 0 when all 24 lines fit in the pipe before head closed it


def test_a_closed_pipe_that_is_not_the_output_is_still_an_error():
    """Only the command's own output ends quietly: with stdout and stderr read to the end, a BrokenPipeError
    (from another pipe) is not taken for a reader gone, and main re-raises it."""
    code = "from textrec.cli import _silence_closed_pipes; print(_silence_closed_pipes())"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout == "False\n" and proc.returncode == 0
