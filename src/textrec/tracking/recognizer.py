"""The registered model: ONNX recognizer + the project's preprocessing + CTC decoding, as an MLflow pyfunc.

Imported only by MLflow when it loads the model (through ``recognizer_code.py``) and by ``register``.

    model = mlflow.pyfunc.load_model("models:/crnn-text-recognizer@production")
    model.predict(pd.DataFrame({"image": [png_bytes, base64_str]}))
    # -> DataFrame with columns text (str) and confidence (float)

Bad images (corrupt, empty, above the byte/pixel limits in the model config) raise an MlflowException
with INVALID_PARAMETER_VALUE, which the scoring server answers with HTTP 400 and a message that says what
is wrong without quoting the request; it starts with ``MODEL_REFUSAL``, which is how ``textrec serve``
tells it from MLflow's own errors (those it replaces: they quote the request).

File paths are not images: by default a string is base64 and nothing else, so no client of a scoring server
can make it open files. A trusted local process that wants to pass paths opts in when it loads the model:

    mlflow.pyfunc.load_model(uri, model_config={"allow_local_paths": True})
    model.predict(pd.DataFrame({"image": ["/data/word.png"]}))

(``MLFLOW_PYFUNC_INFERENCE_CONFIG='{"allow_local_paths": true}'`` in the environment does the same for the
process that loads it, a scoring server included: then every client of that server can read its files.)
Versions registered before this change carry ``allow_paths: true`` in their logged config; that key is
obsolete and ignored, so they no longer read paths either.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from textrec.calibration import Calibration, CalibrationError
from textrec.charset import Charset
from textrec.inference.engines import OnnxEngine
from textrec.inference.recognizer import Recognizer
from textrec.preprocess import IMAGE_SHAPE
from textrec.tracking.images import (
    MODEL_REFUSAL,
    ImageInputError,
    ImageLimits,
    decode_items,
    images_from_input,
    to_image_bytes,
)

# keys of the model config (logged with the model, overridable with load_model(..., model_config=...))
DEFAULT_CONFIG = {
    "image_shape": list(IMAGE_SHAPE),
    "batch_size": 64,
    "threads": 0,  # ONNX Runtime intra-op threads; 0 = every core (OnnxEngine's default)
    "max_bytes": ImageLimits.max_bytes,
    "max_pixels": ImageLimits.max_pixels,
    "max_images": ImageLimits.max_images,
    "allow_local_paths": False,  # read file paths on the serving machine: a trusted local caller's opt-in
    "rotate_portrait": True,  # textrec.inference.orientation: a portrait crop is read turned too
}
OBSOLETE_CONFIG = {"allow_paths"}  # logged by versions registered up to b746339 (as true); ignored


class BadImageInput(MlflowException):
    """A refused request: INVALID_PARAMETER_VALUE, i.e. HTTP 400 from the scoring server.

    The scoring server rewrites the message of an MlflowException raised in ``predict`` to
    "Failed to predict data '<repr of the whole input>'. Error: <message>"; with base64 images that echoes
    megabytes of the upload back to the client. Only our sentence is kept.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        head, sep, tail = str(value).rpartition("\nError: ")
        self._message = tail if sep and head.startswith("Failed to predict data") else str(value)


def _calibration(artifacts: dict) -> Calibration | None:
    if "calibration" not in artifacts:
        logging.getLogger(__name__).warning("this model version has no calibration: its confidences are the "
                                            "model's raw scores, not probabilities")
        return None
    try:
        return Calibration.load(artifacts["calibration"])
    except CalibrationError as e:
        raise MlflowException(str(e), error_code=INVALID_PARAMETER_VALUE) from None


class CrnnRecognizer(mlflow.pyfunc.PythonModel):
    """Artifacts: ``onnx`` (model file, input "x" [N, 3, 32, W]), ``dictionary`` (one char a line) and, for a
    run tracked with one, ``calibration`` (``textrec.calibration``: the confidences it serves are calibrated;
    without it they are the raw scores, said once when the model loads)."""

    def load_context(self, context) -> None:
        logged = dict(context.model_config or {})
        cfg = DEFAULT_CONFIG | {k: v for k, v in logged.items() if k not in OBSOLETE_CONFIG}
        unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
        if unknown:
            raise MlflowException(f"unknown model config key(s) {unknown}; allowed: {sorted(DEFAULT_CONFIG)}",
                                  error_code=INVALID_PARAMETER_VALUE)
        self.limits = ImageLimits(int(cfg["max_bytes"]), int(cfg["max_pixels"]), int(cfg["max_images"]),
                                  cfg["allow_local_paths"] is True)  # only a real true, not "false"
        self.image_shape = tuple(int(v) for v in cfg["image_shape"])
        self.batch_size = int(cfg["batch_size"])
        self.charset = Charset.from_file(context.artifacts["dictionary"])
        # the engine (and so the session options) whose latency the quantize stage measured and the promotion
        # gate read: served model = measured model
        self.engine = OnnxEngine(Path(context.artifacts["onnx"]), threads=int(cfg["threads"]) or None)
        out_classes = self.engine.session.get_outputs()[0].shape[-1]
        if out_classes != self.charset.num_classes:
            raise MlflowException(f"model outputs {out_classes} classes but the dictionary has "
                                  f"{self.charset.num_classes} (with blank)", error_code=INVALID_PARAMETER_VALUE)
        # the Python API and `textrec predict` decode through the same class
        self.recognizer = Recognizer.from_engine(self.engine, self.charset, self.batch_size,
                                                 _calibration(context.artifacts), cfg["rotate_portrait"] is True)
        self.log = None

    def enable_log(self, path: str, model: str, version: str, cfg=None) -> None:
        """Log every served prediction (``textrec serve --log``; ``textrec.monitoring.store``): off the
        request path, never failing a request."""
        from textrec.monitoring.store import PredictionLogger

        self.log = PredictionLogger(path, model, version, cfg, source="serve")

    # the input's type hint tells MLflow it is a DataFrame checked against the logged signature (without one,
    # logging warns that it cannot validate the input)
    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        try:
            images = decode_items(images_from_input(model_input), self.limits)  # uint8 BGR [H, W, 3] each
        except ImageInputError as e:
            raise BadImageInput(f"{MODEL_REFUSAL}{e}") from None
        # batch_size views per engine call; a portrait crop read turned too (Recognizer's rotate_portrait)
        preds = self.recognizer.predict_bgr(images, self.image_shape)
        if self.log is not None:
            try:
                self._log(model_input, preds)
            except Exception as e:  # noqa: BLE001 - logging never fails a request; it is counted
                self.log.count_failure("error", len(preds), repr(e))
        return pd.DataFrame({"text": [p.text for p in preds],
                             "confidence": np.asarray([p.confidence for p in preds], dtype=np.float64)})

    def _log(self, model_input, preds) -> None:
        from textrec.monitoring.store import LogItem

        # the images as bytes again (base64 decoded twice: microseconds), never as paths the writer would open
        images = [to_image_bytes(item, self.limits) for item in images_from_input(model_input)]
        self.log.log([LogItem(b, p.text, p.confidence) for b, p in zip(images, preds, strict=True)])
