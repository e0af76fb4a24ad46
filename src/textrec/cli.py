"""The ``textrec`` console script. Sub-commands live in ``textrec.commands``, one module per group."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# Modules of textrec.commands that define sub-commands (each has ``register(subparsers)``).
COMMAND_MODULES = ("recognize", "profile", "registry", "export", "bundle", "convert", "serve", "monitor",
                   "select", "calibrate")


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's, as pip recorded it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("textrec")
    except PackageNotFoundError:  # sources on sys.path without an install
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="textrec", description="CRNN scene-text recognition pipeline")
    p.add_argument("--version", action="version", version=f"%(prog)s {package_version()}",
                   help="print the installed textrec version and exit")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"textrec.commands.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status. Output cut short by its reader (``textrec predict | head``) ends
    the command quietly with status 141 (128 + SIGPIPE), as a shell reports ``seq 1000000 | head``."""
    try:
        try:
            return _run(argv)
        finally:  # after a return and after argparse's exit (--help, --version) alike
            sys.stdout.flush()  # a reader gone shows here, not as "Exception ignored" at interpreter exit
    except BrokenPipeError:
        if not _silence_closed_pipes():
            raise  # another pipe (not this process's output): a real error
        return 128 + signal.SIGPIPE


def _silence_closed_pipes() -> bool:
    """Point stdout / stderr at /dev/null where their reader has gone (what is still buffered for it would
    fail again at exit); False when neither has. Python ignores SIGPIPE, so a write to such a pipe raises
    BrokenPipeError instead of ending the process as it ends C tools; the poll tells which stream it was
    (POLLERR on a pipe's write end means its read end is closed)."""
    import select

    closed = []
    for stream in (sys.stdout, sys.stderr):
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # not a file (a test's capture)
            continue
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        if any(events & select.POLLERR for _, events in poll.poll(0)):
            closed.append(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in closed:
        os.dup2(devnull, fd)
    os.close(devnull)
    return bool(closed)


def _run(argv: list[str] | None) -> int:
    from textrec.runtime import quiet_paddle_import

    args = build_parser().parse_args(argv)
    try:
        with quiet_paddle_import():  # paddle's import-time ccache warning: noise for every command
            return args.func(args)
    except ModuleNotFoundError as e:  # the core package (ONNX inference) without the extra a command needs
        print(f"textrec {args.command}: error: {e.name} is not installed; this command needs the pipeline "
              "extra: pip install 'textrec[pipeline]'", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as e:  # user errors: one clear line, no traceback
        print(f"textrec {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
