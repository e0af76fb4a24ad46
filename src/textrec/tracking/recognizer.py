"""The registered model: ONNX recognizer + the project's preprocessing + CTC decoding, as an MLflow pyfunc.

Imported only by MLflow when it loads the model (through ``recognizer_code.py``) and by ``register``.

    model = mlflow.pyfunc.load_model("models:/crnn-text-recognizer@production")
    model.predict(pd.DataFrame({"image": [png_bytes, base64_str, "/path/word.png"]}))
    # -> DataFrame with columns text (str) and confidence (float)

Bad images (corrupt, empty, above the byte/pixel limits in the model config) raise an MlflowException
with INVALID_PARAMETER_VALUE, which the scoring server answers with HTTP 400 and the message.
"""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from textrec.charset import Charset
from textrec.evaluation.ctc import ctc_greedy_decode
from textrec.tracking.images import ImageInputError, ImageLimits, images_from_input, preprocess_items

# keys of the model config (logged with the model, overridable with load_model(..., model_config=...))
DEFAULT_CONFIG = {
    "image_shape": [3, 32, 100],
    "batch_size": 64,
    "threads": 0,  # ONNX Runtime intra-op threads; 0 = its default (all cores)
    "max_bytes": ImageLimits.max_bytes,
    "max_pixels": ImageLimits.max_pixels,
    "max_images": ImageLimits.max_images,
    "allow_paths": ImageLimits.allow_paths,
}


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


class CrnnRecognizer(mlflow.pyfunc.PythonModel):
    """Artifacts: ``onnx`` (model file, input "x" [N, 3, 32, W]) and ``dictionary`` (one char a line)."""

    def load_context(self, context) -> None:
        import onnxruntime as ort

        cfg = DEFAULT_CONFIG | dict(context.model_config or {})
        unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
        if unknown:
            raise MlflowException(f"unknown model config key(s) {unknown}; allowed: {sorted(DEFAULT_CONFIG)}",
                                  error_code=INVALID_PARAMETER_VALUE)
        self.limits = ImageLimits(int(cfg["max_bytes"]), int(cfg["max_pixels"]), int(cfg["max_images"]),
                                  bool(cfg["allow_paths"]))
        self.image_shape = tuple(int(v) for v in cfg["image_shape"])
        self.batch_size = int(cfg["batch_size"])
        self.charset = Charset.from_file(context.artifacts["dictionary"])
        opts = ort.SessionOptions()
        if cfg["threads"]:
            opts.intra_op_num_threads = int(cfg["threads"])
        self.session = ort.InferenceSession(context.artifacts["onnx"], opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        out_classes = self.session.get_outputs()[0].shape[-1]
        if out_classes != self.charset.num_classes:
            raise MlflowException(f"model outputs {out_classes} classes but the dictionary has "
                                  f"{self.charset.num_classes} (with blank)", error_code=INVALID_PARAMETER_VALUE)

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        try:
            x = preprocess_items(images_from_input(model_input), self.limits, self.image_shape)  # [N, 3, 32, 100]
        except ImageInputError as e:
            raise BadImageInput(f"bad input: {e}") from None
        texts, confs = [], []
        for i in range(0, len(x), self.batch_size):
            probs = self.session.run(None, {self.input_name: x[i:i + self.batch_size]})[0]  # [n, T, C]
            for p in ctc_greedy_decode(np.asarray(probs), self.charset):
                texts.append(p.text)
                confs.append(p.confidence)
        return pd.DataFrame({"text": texts, "confidence": np.asarray(confs, dtype=np.float64)})
