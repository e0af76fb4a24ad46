"""PaddleOCR's TextRecognizer (tools/infer/predict_rec.py) on the jobs of a JSON spec: run by
scripts/paddleocr_interop.py in a child process, with the paddleocr wheel's install folder on PYTHONPATH.

    python scripts/paddleocr_predict_rec.py SPEC.json

SPEC: {"paddleocr": <the wheel's paddleocr/ folder>, "images": [paths], "out": <folder>, "jobs": [{"model",
"engine", "use_space_char", "argv": predict_rec's arguments}]}. Writes <out>/results.json (per job: texts,
scores, and the error of the Paddle path as it is, if any) and <out>/inputs_<job>.npz (the tensor each image
became, [3, 32, W], key = the image's index). Images are read as predict_rec's main() reads them.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np


def _text_recognizer(text_recognizer: type, args: argparse.Namespace) -> tuple[object, str | None]:
    """PaddleOCR's TextRecognizer as it is, else (its Paddle path only) with paddle's new IR switched on.

    predict_rec 2.10 configures Paddle Inference with enable_memory_optim() but not enable_new_ir() /
    enable_new_executor(); paddle 3.3.1 then cannot create a predictor for a PIR model (inference.json, as
    paddle 3's jit.save and PaddleOCR's export write): "Not find predictor_id 0 and pass_name
    memory_optimize_pass". Switching both on in the config it built
    (as textrec's PaddleInferenceEngine does) is the only change; the error is returned for the report."""
    from paddle import inference

    try:
        return text_recognizer(args), None
    except ValueError as e:
        if args.use_onnx:
            raise
        error = re.sub(r"predictor_id \d+", "predictor_id N", str(e).strip().splitlines()[0])
    create = inference.create_predictor

    def with_new_ir(config):
        config.enable_new_ir()
        config.enable_new_executor()
        return create(config)

    inference.create_predictor = with_new_ir  # utility.create_predictor looks it up on the module at call time
    try:
        return text_recognizer(args), error
    finally:
        inference.create_predictor = create


def main(spec_path: str) -> None:
    """Every job of the spec; the tensor each image became is recorded by wrapping the recognizer's own
    resize_norm_img (which still computes it)."""
    spec = json.loads(Path(spec_path).read_text())
    sys.path.insert(0, spec["paddleocr"])  # the wheel's paddleocr/ holds the tools/ and ppocr/ packages
    import cv2
    from ppocr.utils.utility import check_and_read
    from tools.infer import utility
    from tools.infer.predict_rec import TextRecognizer

    imgs = []
    for f in spec["images"]:
        img, flag, _ = check_and_read(f)
        imgs.append(img if flag else cv2.imread(f))
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i, job in enumerate(spec["jobs"]):
        rec, as_is_error = _text_recognizer(TextRecognizer, utility.init_args().parse_args(job["argv"]))
        seen: dict[int, np.ndarray] = {}
        resize = rec.resize_norm_img

        def recording(img, max_wh_ratio, _resize=resize, _seen=seen):
            _seen[id(img)] = x = _resize(img, max_wh_ratio)  # [3, 32, W]
            return x

        rec.resize_norm_img = recording
        res, _ = rec(imgs)
        np.savez(out / f"inputs_{i}.npz", **{str(k): seen[id(img)] for k, img in enumerate(imgs)})
        results.append({k: job[k] for k in ("model", "engine", "use_space_char")}
                       | {"texts": [t for t, _ in res], "scores": [float(s) for _, s in res],
                          "as_is_error": as_is_error})
    (out / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1])
