"""``textrec profile NAME [-o key.path=value ...]``: compose profiles/base.yaml, the profile and the overrides
into params.yaml."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_profile(args: argparse.Namespace) -> int:
    from textrec.profiles import write_profile

    dst = write_profile(args.name, Path(args.params), tuple(args.overrides))
    print(f"{dst}: profile '{args.name}'{' with ' + ', '.join(args.overrides) if args.overrides else ''} "
          "(run `dvc repro` to rebuild what it changes)")
    return 0


def register(sub) -> None:
    from textrec.config import PROFILES

    sp = sub.add_parser("profile", help=f"write params.yaml from a profile: {', '.join(PROFILES)}")
    sp.add_argument("name", choices=PROFILES, help="the profile (profiles/<name>.yaml over profiles/base.yaml)")
    sp.add_argument("-o", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                    help="a setting on top of the profile, e.g. -o train.mobilenet_v3.lr=1e-3 or "
                         "-o model.backbones=[mobilenet_v3] (a list replaces the profile's whole); repeatable")
    sp.add_argument("--params", default="params.yaml", help="the file to write (default: %(default)s)")
    sp.set_defaults(func=cmd_profile)
