"""``textrec profile NAME``: switch params.yaml to a profile."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_profile(args: argparse.Namespace) -> int:
    from textrec.profiles import apply_profile

    dst = apply_profile(args.name, Path(args.params))
    print(f"{dst}: profile '{args.name}' (run `dvc repro` to rebuild what it changes)")
    return 0


def register(sub) -> None:
    from textrec.config import PROFILES

    sp = sub.add_parser("profile", help=f"switch params.yaml to a profile: {', '.join(PROFILES)}")
    sp.add_argument("name", choices=PROFILES, help="the profile (profiles/<name>.yaml)")
    sp.add_argument("--params", default="params.yaml", help="the file to write (default: %(default)s)")
    sp.set_defaults(func=cmd_profile)
