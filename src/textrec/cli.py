"""The ``textrec`` console script. Sub-commands live in ``textrec.commands``, one module per group."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

# Modules of textrec.commands that define sub-commands (each has ``register(subparsers)``).
COMMAND_MODULES = ("recognize", "profile", "registry", "export", "bundle", "convert", "serve", "monitor",
                   "select", "calibrate")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="textrec", description="CRNN scene-text recognition pipeline")
    sub = p.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"textrec.commands.{name}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # paddle warns at import that ccache (a C++ build cache) is missing: noise for every command
    warnings.filterwarnings("ignore", message="No ccache found", category=UserWarning)
    try:
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
