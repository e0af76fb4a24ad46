"""Interop: our exported models run in PaddleOCR's own tools/infer/predict_rec.py (its TextRecognizer), and
their texts are compared with textrec's Recognizer on the same images.

    .venv/bin/python scripts/paddleocr_interop.py [--images DIR] [--checkpoint X.pdparams] [--out report.json]

PaddleOCR 2.10.0 (the newest 2.x; its wheel ships tools/ and ppocr/) is installed by hash with --no-deps into
a cache folder, never into the venv, together with the one thing its imports need that the venv lacks
(scikit-image + lazy_loader: ppocr.postprocess imports PGNet's post-processing, which imports skimage). Its
code runs in a child process of this venv's Python (paddle 3.3.1, OpenCV, onnxruntime) with that folder on
PYTHONPATH (scripts/paddleocr_predict_rec.py). Both of predict_rec's model paths are run: the Paddle
inference model (paddle 3.3's PIR inference.json + inference.pdiparams; predict_rec 2.10 loads it only with
paddle's new IR switched on, see that file) and the ONNX file (--use_onnx=True).

Models (MODELS): the bundled checkpoint given each built-in dictionary by the trainer's dictionary-aware
init (textrec.training.init.apply_init: the bundle's own dictionary loads as is, another one has its head
mapped character by character), and once more onto en with its characters relabelled (RELABELLED), so that
upper case, punctuation and space come out too; each exported by textrec.export.export_bundle (or
--checkpoint: any .pdparams with its dictionary). predict_rec gets
--rec_image_shape=3,32,100, --rec_algorithm=CRNN, --rec_batch_num=1, the model's dictionary file and
--use_space_char True and False (True appends a second space class, which a head of len(dictionary)+1 classes
never outputs).

Preprocessing: predict_rec widens the input of an image wider than 100/32 to floor(32 w/h) px; textrec never
widens (textrec.preprocess). So each image's texts are compared twice: textrec on the tensor predict_rec fed
its model (recorded in the child; every image), and textrec on the file with its own preprocessing (equal
inputs, hence equal texts, for images no wider than 100/32; the wide ones are listed, not failed).
Exit 0 when everything that must match matches, 1 otherwise; the report (JSON) says what was compared.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textrec.preprocess import IMAGE_SHAPE

PADDLEOCR = "paddleocr==2.10.0"
# Wheels of the packages installed beside PaddleOCR (pip --require-hashes; Linux x86_64, CPython 3.11).
PINS = """\
paddleocr==2.10.0 --hash=sha256:38df818d87a00af854cbfd14e33615edc3c4fa2caeb662149d51e6f2e212013f
scikit-image==0.26.0 --hash=sha256:74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af
lazy_loader==0.6 --hash=sha256:77253be3391b06124a0e16105bd663b6c54470af1a9ca8e1cf026f38d58ed056
"""
# The models checked by default: the bundle with each built-in dictionary, and relabelled onto en (below).
MODELS = (("builtin:0-9a-z", False), ("builtin:en", False), ("builtin:en", True))
# a-m swapped with A-M, digits with punctuation and space: the 0-9a-z bundle's columns land on classes spread
# over en_dict.txt (upper case 18-30, punctuation 11-16 and 80-94, space 95; n-z stay at 63-75) instead of
# its digits and lower case only. A swap, so that it relabels any dictionary (an en bundle too) one to one.
_PLAIN, _SWAPPED = "abcdefghijklm0123456789", "ABCDEFGHIJKLM .,:;!?'-/"
RELABELLED = str.maketrans(_PLAIN + _SWAPPED, _SWAPPED + _PLAIN)
SCORE_ATOL = 1e-5  # Paddle Inference vs ONNX Runtime: scores differ by ~3e-7 (parity kit README)
REPO = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("paddleocr_predict_rec.py")  # runs in the child, with PaddleOCR importable
KIT_IMAGES = REPO.parent / "shared" / "reference" / "paddleocr-parity" / "images"


def default_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "textrec" / PADDLEOCR.replace("==", "-")


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"paddleocr_interop: pip {args[0]} failed: {tail}")


def install_paddleocr(cache: Path) -> Path:
    """PaddleOCR and its missing imports installed in ``cache/site`` (wheels kept in ``cache/wheels``, checked
    against PINS); returns the folder to put on PYTHONPATH. Nothing is fetched when both are there."""
    site, wheels, pins = cache / "site", cache / "wheels", cache / "pins.txt"
    done = site / ".installed"
    if done.is_file() and done.read_text() == PINS:
        return site
    cache.mkdir(parents=True, exist_ok=True)
    pins.write_text(PINS)
    if not (wheels / ".downloaded").is_file() or (wheels / ".downloaded").read_text() != PINS:
        _pip("download", "--no-deps", "--only-binary=:all:", "--require-hashes", "-r", str(pins), "-d", str(wheels))
        (wheels / ".downloaded").write_text(PINS)
    _pip("install", "--no-deps", "--no-index", "--find-links", str(wheels), "--require-hashes", "-r", str(pins),
         "--target", str(site), "--upgrade")
    done.write_text(PINS)
    return site


@dataclass(frozen=True)
class Exported:
    name: str
    dictionary: Path  # the dictionary file predict_rec and Recognizer read
    inference_dir: Path  # inference.json + inference.pdiparams
    onnx: Path


def export_model(checkpoint: Path, dictionary: Path, out: Path, name: str) -> Exported:
    from textrec.charset import Charset
    from textrec.export.bundle import export_bundle

    bundle = export_bundle(checkpoint, out, Charset.from_file(dictionary), image_shape=IMAGE_SHAPE)
    return Exported(name, dictionary, bundle.inference_dir, bundle.onnx)


def bundled_for(dictionary: str, work: Path, relabel: bool = False) -> Exported:
    """The bundled MobileNetV3 checkpoint given ``dictionary`` by the trainer's dictionary-aware init (seed 0
    for the columns of characters the bundle lacks), saved with the dictionary file beside it, then exported.
    ``relabel``: the init is told that the bundle's dictionary is RELABELLED's image of it, so its trained
    columns land on upper-case, punctuation and space classes (a model whose texts use the whole dictionary)."""
    import paddle

    from textrec.charset import Charset, dictionary_beside, read_dictionary
    from textrec.models.checkpoint import save_weights
    from textrec.models.crnn import build_model
    from textrec.training.init import apply_init, resolve_init

    tag = dictionary.removeprefix("builtin:") + ("-relabelled" if relabel else "")
    ckpt = work / tag / "model.pdparams"
    dict_file = dictionary_beside(ckpt)
    dict_file.parent.mkdir(parents=True, exist_ok=True)
    dict_file.write_text(read_dictionary(dictionary)[1], encoding="utf-8")  # the package's file, verbatim
    init = resolve_init("bundled", "mobilenet_v3")
    init_dict = None
    if relabel:  # the bundle's own dictionary, each character relabelled
        init_dict = work / tag / "bundle_relabelled.txt"
        init_dict.write_text(read_dictionary(dictionary_beside(init.path))[1].translate(RELABELLED))
    paddle.seed(0)
    charset = Charset.from_file(dict_file)
    model = build_model("mobilenet_v3", charset.num_classes)
    apply_init(model, init, "mobilenet_v3", charset, None if init_dict is None else str(init_dict))
    save_weights(model, ckpt)
    return export_model(ckpt, dict_file, work / tag / "export", f"bundle as {tag}")


def jobs_for(models: list[Exported]) -> list[dict]:
    """predict_rec's arguments: each model by both of its paths, with use_space_char True and False."""
    jobs = []
    for m in models:
        for path, onnx in ((m.inference_dir, False), (m.onnx, True)):
            for space in (False, True):
                argv = ["--use_gpu=False", "--rec_algorithm=CRNN", "--rec_image_shape=3,32,100",
                        "--rec_batch_num=1", f"--rec_model_dir={path.resolve()}",
                        f"--rec_char_dict_path={m.dictionary.resolve()}",
                        f"--use_space_char={space}", f"--use_onnx={onnx}"]
                jobs.append({"model": m.name, "engine": "onnx" if onnx else "paddle_inference",
                             "use_space_char": space, "argv": argv})
    return jobs


def run_predict_rec(site: Path, jobs: list[dict], images: list[Path], work: Path) -> list[dict]:
    """Each job's texts, scores and input tensors from PaddleOCR's TextRecognizer, in a child process."""
    spec, out = work / "predict_rec_jobs.json", work / "predict_rec_out"
    spec.write_text(json.dumps({"paddleocr": str(site / "paddleocr"), "images": [str(p.resolve()) for p in images],
                                "jobs": jobs, "out": str(out)}))
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    done = subprocess.run([sys.executable, str(RUNNER), str(spec)], env=env, cwd=work,
                          capture_output=True, text=True)
    if done.returncode != 0:
        log = site.parent / "predict_rec.log"  # the cache folder: kept after the run
        log.write_text(done.stdout + done.stderr)
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"predict_rec failed (exit {done.returncode}): {last} (its output: {log})")
    results = json.loads((out / "results.json").read_text())
    for i, r in enumerate(results):
        with np.load(out / f"inputs_{i}.npz") as z:
            r["inputs"] = [z[str(k)] for k in range(len(images))]
    return results


def compare(result: dict, rec, images: list[Path]) -> dict:
    """One predict_rec job against textrec's Recognizer ``rec`` on the same images (module docstring)."""
    from textrec.preprocess import preprocess_bytes

    same_input = [rec.predict_inputs(x[None])[0] for x in result["inputs"]]
    own = rec(images)
    rows, texts, pr = [], result["texts"], result["inputs"]
    for k, path in enumerate(images):
        narrow = pr[k].shape[2] == IMAGE_SHAPE[2]
        rows.append({"image": path.name, "predict_rec": texts[k], "textrec_same_input": same_input[k].text,
                     "textrec": own[k].text, "predict_rec_input_width": int(pr[k].shape[2]),
                     "same_tensor": bool(narrow and np.array_equal(pr[k], preprocess_bytes(path.read_bytes())))})
    narrow_rows = [r for r in rows if r["predict_rec_input_width"] == IMAGE_SHAPE[2]]
    score_diff = max(abs(a - b.confidence) for a, b in zip(result["scores"], same_input, strict=True))
    checks = {"texts_same_input": all(r["predict_rec"] == r["textrec_same_input"] for r in rows),
              "scores_same_input": score_diff <= SCORE_ATOL,
              "narrow_inputs_identical": all(r["same_tensor"] for r in narrow_rows),
              "texts_narrow_own_preprocessing": all(r["predict_rec"] == r["textrec"] for r in narrow_rows)}
    return {k: result[k] for k in ("model", "engine", "use_space_char", "as_is_error")} | {
        "passed": all(checks.values()), "checks": checks, "max_score_diff": score_diff,
        "images": len(rows), "narrow_images": len(narrow_rows),
        "wide_differing": [r["image"] for r in rows if r["predict_rec_input_width"] > IMAGE_SHAPE[2]
                           and r["predict_rec"] != r["textrec"]],
        "rows": rows}


def run(images: list[Path], models: list[Exported] | None, cache: Path, work: Path) -> list[dict]:
    """Every predict_rec job (``jobs_for``) on ``images`` compared with textrec's Recognizer on the model's
    ONNX file; ``models`` None: MODELS, made in ``work``."""
    from textrec.inference.recognizer import Recognizer

    site = install_paddleocr(cache)
    models = models or [bundled_for(d, work / "models", relabel) for d, relabel in MODELS]
    results = run_predict_rec(site, jobs_for(models), images, work)
    # each image read as given, as predict_rec reads it (no turning of portrait crops)
    recs = {m.name: Recognizer(m.onnx, dictionary=m.dictionary, calibration=False, threads=1, rotate_portrait=False)
            for m in models}
    return [compare(r, recs[r["model"]], images) for r in results]


def _print(reports: list[dict]) -> None:
    for error in sorted({r["as_is_error"] for r in reports if r["as_is_error"]}):
        print(f"predict_rec's Paddle path ran with paddle's new IR switched on; as it is it fails: {error}")
    for r in reports:
        c, same = r["checks"], sum(x["predict_rec"] == x["textrec_same_input"] for x in r["rows"])
        wide = f"; wide images read otherwise at 100 px: {r['wide_differing']}" if r["wide_differing"] else ""
        print(f"{'ok  ' if r['passed'] else 'FAIL'} {r['model']}, predict_rec {r['engine']}, use_space_char="
              f"{r['use_space_char']}: {same}/{r['images']} texts equal on its input (score diff "
              f"{r['max_score_diff']:.2g}); {r['narrow_images']} narrow images: same tensor "
              f"{c['narrow_inputs_identical']}, same text {c['texts_narrow_own_preprocessing']}{wide}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=KIT_IMAGES, help="folder of word images (default: the parity kit's)")
    ap.add_argument("--checkpoint", type=Path, help="a .pdparams to check instead of the bundle (its dictionary "
                    "beside it as <stem>.dict.txt, or --dictionary)")
    ap.add_argument("--dictionary", type=Path, help="the checkpoint's dictionary file")
    ap.add_argument("--cache", type=Path, default=default_cache(), help="where PaddleOCR is installed")
    ap.add_argument("--out", type=Path, help="write the report as JSON here")
    args = ap.parse_args(argv)
    images = sorted(p for p in args.images.glob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"})
    if not images:
        raise SystemExit(f"paddleocr_interop: no image in {args.images}")
    with tempfile.TemporaryDirectory(prefix="paddleocr_interop-") as tmp:
        models = None
        if args.checkpoint:
            from textrec.charset import dictionary_beside

            dictionary = args.dictionary or dictionary_beside(args.checkpoint)
            if not dictionary.is_file():
                raise SystemExit(f"paddleocr_interop: no dictionary {dictionary}; pass --dictionary")
            models = [export_model(args.checkpoint, dictionary, Path(tmp) / "export", args.checkpoint.name)]
        try:
            reports = run(images, models, args.cache, Path(tmp))
        except RuntimeError as e:
            raise SystemExit(f"paddleocr_interop: {e}") from None
    _print(reports)
    if args.out:
        args.out.write_text(json.dumps(reports, indent=2) + "\n")
    return 0 if all(r["passed"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
