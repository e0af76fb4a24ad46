"""``textrec bundle``: ship a trained checkpoint inside the package, as ONNX too, with its model card.

After `textrec profile pretrain && dvc repro` and `python bench/real_dev.py --model models/mobilenet_v3/best.pdparams`:

    textrec bundle            # -> src/textrec/assets/models/mobilenet_v3{.pdparams,.onnx,_int8.onnx,.dict.txt,.json,.md}
    textrec bundle --reexport # the bundled .pdparams exported again (new export code); its card's facts kept
    textrec bundle --calibration FILE  # only give the bundle this confidence calibration (bench/calibration.py)

The ONNX files are made and checked as the export and quantize stages make them (``params.export``,
``params.quantize``): fp32 always (parity with the checkpoint on benchmark crops), INT8 only when it passes
the quantize gates. The run's calibration (calibrate stage: exported/<backbone>/calibration.json) ships as
``<backbone>.calibration.json``; --reexport keeps the bundle's own. File names: ``textrec.inference.bundled``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

MAX_BYTES = 10 * 1024 * 1024  # what a wheel should carry for one checkpoint
MAX_MODEL_BYTES = 25 * 1024 * 1024  # every model file of the bundle together (.pdparams + ONNX files)
USES = {"pdparams": "checkpoint (paddle): `init: bundled`, `--model bundled:pdparams`",
        "onnx": "ONNX fp32: the default of `Recognizer()` and `textrec predict`",
        "int8": "ONNX INT8: `--model bundled:int8`",
        "dict": "dictionary, one character a line (class i = line i, 0 = blank)"}


def _card(args: argparse.Namespace, params, ckpt: Path, backbone: str, out: Path, characters: str) -> dict:
    """The card of a newly bundled checkpoint, or (``--reexport``) the bundle's own card, whose training
    facts stay as they are (and whose dictionary must be the params' one)."""
    from textrec.models.model_card import build_card

    if args.reexport:
        card_file = out / f"{backbone}.json"
        if not card_file.is_file():
            raise FileNotFoundError(f"{card_file}: no model card to keep; bundle a trained checkpoint instead")
        card = json.loads(card_file.read_text(encoding="utf-8"))
        known = card.get("dictionary", {}).get("characters", characters)
        if known != characters:
            raise ValueError(f"{card_file}: the bundle's dictionary is {known!r}, {args.params} gives "
                             f"{characters!r}: pass the params of the run that trained it")
        return card
    real_dev = Path(args.real_dev) if args.real_dev else None
    if real_dev is not None and not real_dev.is_file():
        raise FileNotFoundError(f"{real_dev}: run `python bench/real_dev.py --model {ckpt}` first, or pass "
                                "--real-dev ''")
    return build_card(ckpt, params, backbone, real_dev, Path.cwd())


def _checkpoint(args: argparse.Namespace, out: Path) -> Path:
    from textrec.inference.bundled import BUNDLED_BACKBONE, bundled_file

    ckpt = bundled_file(BUNDLED_BACKBONE, "pdparams", out) if args.reexport else Path(args.checkpoint)
    if not ckpt.is_file():
        raise FileNotFoundError(f"{ckpt}: no checkpoint (train first: `textrec profile pretrain && dvc repro`)")
    if ckpt.stat().st_size > MAX_BYTES:
        raise ValueError(f"{ckpt}: {ckpt.stat().st_size:,} bytes, above the {MAX_BYTES:,} a bundle may carry")
    return ckpt


def _stage(ckpt: Path, staging: Path, params, backbone: str, characters: str,
           args: argparse.Namespace) -> tuple[dict[str, Path], dict]:
    """Every file of the bundle in ``staging`` (variant -> path) and the card's ``onnx`` section."""
    from textrec.export.bundle import onnx_for_package
    from textrec.inference.bundled import DICT_SUFFIX, bundled_file
    from textrec.progress import on_terminal

    onnx = onnx_for_package(ckpt, staging / "export", params, backbone, not args.no_int8,
                            on_terminal(args.no_progress))
    files = {"pdparams": bundled_file(backbone, "pdparams", staging), "onnx": bundled_file(backbone, "onnx", staging),
             "dict": staging / f"{backbone}{DICT_SUFFIX}"}
    shutil.copyfile(ckpt, files["pdparams"])  # bit for bit: the card's sha256 is this file's
    os.replace(onnx.fp32, files["onnx"])
    if onnx.int8 is not None:
        files["int8"] = bundled_file(backbone, "int8", staging)
        os.replace(onnx.int8, files["int8"])
    files["dict"].write_text("".join(c + "\n" for c in characters), encoding="utf-8")
    model_bytes = sum(p.stat().st_size for k, p in files.items() if k != "dict")
    if model_bytes > MAX_MODEL_BYTES:
        raise ValueError(f"the bundle's model files are {model_bytes:,} bytes, above the {MAX_MODEL_BYTES:,} the "
                         "package may carry; pass --no-int8 or bundle a smaller model")
    return files, onnx.card


def cmd_bundle(args: argparse.Namespace) -> int:
    from textrec.config import load_params
    from textrec.inference.bundled import bundled_file
    from textrec.models.checkpoint import detect_backbone
    from textrec.models.model_card import dictionary_section, file_entry, write_card
    from textrec.models.pretrained import BUNDLED_DIR
    from textrec.runtime import configure_runtime

    if args.calibration:
        return _attach_calibration(args)
    params = load_params(args.params)
    characters = "".join(params.charset.build().characters)  # the run's dictionary: the head's classes 1..N
    out = Path(args.out or BUNDLED_DIR)
    ckpt = _checkpoint(args, out)
    backbone = detect_backbone(ckpt)
    card = _card(args, params, ckpt, backbone, out, characters)
    if not args.reexport:
        _check_calibration(params.paths.calibration(backbone), card["sha256"], backbone)
    configure_runtime("cpu", threads=os.cpu_count())  # as the export stage: before the first paddle computation
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=".bundle-") as tmp:  # same file system: os.replace
        files, onnx_card = _stage(ckpt, Path(tmp), params, backbone, characters, args)
        bundled_file(backbone, "int8", out).unlink(missing_ok=True)  # an older bundle's INT8 is not this one's
        shipped = {k: out / p.name for k, p in files.items()}
        for k, p in files.items():
            os.replace(p, shipped[k])
    card |= {"dictionary": dictionary_section(shipped["dict"].name, characters),
             "files": [file_entry(p, USES[k]) for k, p in shipped.items()], "onnx": onnx_card}
    _ship_calibration(card, params.paths.calibration(backbone), out, backbone, args)
    js, md = write_card(card, out / backbone)
    print(f"{out}: {', '.join(p.name for p in shipped.values())}; {card['steps']:,} steps, "
          f"{card['images_seen']:,} images; synthetic mean {card['synthetic_mean_accuracy']:.1%}; ONNX max abs "
          f"diff {onnx_card['parity']['max_abs_diff']:.2g}; INT8 {_int8_verdict(onnx_card['int8'])}; card {js}, {md}")
    return 0


def _check_calibration(run_calibration: Path, sha256: str, backbone: str) -> None:
    """Before any export: the run's calibration, if there is one, was fitted on these weights."""
    from textrec.calibration import Calibration
    from textrec.models.model_card import StaleMeasurement

    if not run_calibration.is_file():
        return
    fitted = Calibration.load(run_calibration).fitted_on.get("checkpoint_sha256")
    if fitted != sha256:
        raise StaleMeasurement(f"{run_calibration}: fitted on other weights (sha256 {str(fitted)[:12]}, the "
                               f"checkpoint is {sha256[:12]}): run `dvc repro calibrate@{backbone}` first")


def _ship_calibration(card: dict, run_calibration: Path, out: Path, backbone: str, args: argparse.Namespace) -> None:
    """The run's calibration into the bundle (--reexport: the bundle's own, same weights), with its card entry."""
    from textrec.artifacts import BenchResult
    from textrec.export.bundle import CALIBRATION_USE, ship_calibration
    from textrec.models.model_card import calibration_section, file_entry

    source = None if args.reexport or not run_calibration.is_file() else run_calibration
    shipped = ship_calibration(source, out, backbone)
    if shipped is None:
        print(f"no calibration ({run_calibration} not found): the bundle's confidences stay raw scores")
        return
    bench = Path(args.calibration_bench) if args.calibration_bench else None
    card["files"].append(file_entry(shipped, CALIBRATION_USE))
    card["calibration"] = calibration_section(shipped, BenchResult.read(bench) if bench and bench.is_file()
                                              else None)


def _attach_calibration(args: argparse.Namespace) -> int:
    from textrec.export.bundle import attach_calibration
    from textrec.inference.bundled import BUNDLED_BACKBONE
    from textrec.models.pretrained import BUNDLED_DIR

    out = Path(args.out or BUNDLED_DIR)
    bench = Path(args.calibration_bench) if args.calibration_bench else None
    card = attach_calibration(out, BUNDLED_BACKBONE, Path(args.calibration), bench)
    c = card["calibration"]
    print(f"{out}: {c['file']} ({c['description']}); card {out / BUNDLED_BACKBONE}.json, .md"
          + ("" if c["real_dev"] else f" (no real-photo measurement of it in {bench})"))
    return 0


def _int8_verdict(int8: dict | None) -> str:
    if int8 is None:
        return "not attempted"
    return "shipped" if int8["shipped"] else "not shipped: " + "; ".join(int8["failed_gates"])


def register(sub) -> None:
    sp = sub.add_parser("bundle", help="ship a trained checkpoint in the package (+ ONNX, INT8) with its model card")
    sp.add_argument("--checkpoint", default="models/mobilenet_v3/best.pdparams",
                    help="the trained .pdparams to ship (default: %(default)s)")
    sp.add_argument("--params", default="params.yaml", help="the run's params: paths of its LMDBs and reports, "
                    "dictionary, export and quantize settings")
    sp.add_argument("--real-dev", default="reports/bench/real_dev.json",
                    help="bench/real_dev.py's JSON for this checkpoint ('' to leave it out)")
    sp.add_argument("--out", default=None, help="default: the package's assets/models")
    sp.add_argument("--reexport", action="store_true",
                    help="export the bundle already in --out again from its own .pdparams, keeping its card's facts")
    sp.add_argument("--no-int8", action="store_true", help="ship the fp32 ONNX only (no INT8 attempt)")
    sp.add_argument("--calibration", metavar="FILE", default=None,
                    help="only give the bundle in --out this confidence calibration (no export; card updated)")
    sp.add_argument("--calibration-bench", default="reports/bench/calibration.json",
                    help="bench/calibration.py's JSON: the calibration's ECE on real photos, for the card")
    sp.add_argument("--no-progress", action="store_true", help="no progress bars")
    sp.set_defaults(func=cmd_bundle)
