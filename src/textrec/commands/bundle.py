"""``textrec bundle``: ship a trained checkpoint inside the package, with its model card.

After `textrec profile pretrain && dvc repro` and `python bench/real_dev.py --model models/mobilenet_v3/best.pdparams`:

    textrec bundle          # -> src/textrec/assets/models/mobilenet_v3.{pdparams,json,md}
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024  # what a wheel should carry for one model


def cmd_bundle(args: argparse.Namespace) -> int:
    from textrec.config import load_params
    from textrec.models.checkpoint import detect_backbone
    from textrec.models.model_card import build_card, write_card
    from textrec.models.pretrained import BUNDLED_DIR

    params = load_params(args.params)
    ckpt = Path(args.checkpoint)
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: no checkpoint (train first: `textrec profile pretrain && dvc repro`)")
    if ckpt.stat().st_size > MAX_BYTES:
        raise ValueError(f"{ckpt}: {ckpt.stat().st_size:,} bytes, above the {MAX_BYTES:,} a bundle may carry")
    backbone = detect_backbone(ckpt)
    real_dev = Path(args.real_dev) if args.real_dev else None
    if real_dev is not None and not real_dev.is_file():
        raise FileNotFoundError(f"{real_dev}: run `python bench/real_dev.py --model {ckpt}` first, or pass "
                                "--real-dev ''")
    card = build_card(ckpt, params, backbone, real_dev, Path.cwd())
    out = Path(args.out or BUNDLED_DIR)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ckpt, out / f"{backbone}.pdparams")  # bit for bit: the card's sha256 is this file's
    js, md = write_card(card, out / backbone)
    print(f"{out / f'{backbone}.pdparams'}: {card['steps']:,} steps, {card['images_seen']:,} images; "
          f"synthetic mean {card['synthetic_mean_accuracy']:.1%}; card {js}, {md}")
    return 0


def register(sub) -> None:
    sp = sub.add_parser("bundle", help="copy a trained checkpoint into the package with its model card")
    sp.add_argument("--checkpoint", default="models/mobilenet_v3/best.pdparams")
    sp.add_argument("--params", default="params.yaml")
    sp.add_argument("--real-dev", default="reports/bench/real_dev.json",
                    help="bench/real_dev.py's JSON for this checkpoint ('' to leave it out)")
    sp.add_argument("--out", default=None, help="default: the package's assets/models")
    sp.set_defaults(func=cmd_bundle)
