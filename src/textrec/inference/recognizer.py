"""The Python API: read the text in word images with the bundled model or any model textrec can load.

    from textrec import Recognizer
    rec = Recognizer()                        # the MobileNetV3 model shipped in the package, as ONNX
    rec = Recognizer("model.onnx")            # or a .pdparams checkpoint, an exported inference directory,
                                              # "bundled:pdparams" or "bundled:int8" (textrec.inference.bundled)
    rec("word.png")                           # -> Prediction(text='hello', confidence=0.98)
    rec(["a.png", png_bytes, gray_array])     # a batch -> [Prediction, ...] in input order
    rec(cv2.imread("word.png"), bgr=True)     # arrays are RGB (PIL, imageio) unless bgr=True (OpenCV)

An image is a file path, encoded bytes (PNG, JPEG, ...) or a uint8 array: HxW grayscale, HxWx3 RGB (BGR with
``bgr=True``), or HxWx4 with the alpha channel dropped. A list or tuple of images, or an NxHxWx3 array, is a
batch. Every image goes through ``textrec.preprocess`` (PaddleOCR's BGR eval transform), so an array gives
the same text as the file it was read from. ``textrec predict``/``evaluate`` and the MLflow pyfunc call this
class too. An ONNX model (the default included) never imports paddle.

The confidence is calibrated when the model has a calibration (``textrec.calibration``: fitted on labelled
validation words, so that of the words given 0.9 about 9 in 10 are right): ``calibration.json`` or
``<stem>.calibration.json`` beside the model file, the bundle's own for a bundled model. A model without one
gives its raw score (the mean of the kept frames' max probabilities, not a probability) and says so once, on
the ``textrec.inference.recognizer`` logger; ``calibration=False`` asks for the raw score without the note.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import overload

import numpy as np

from textrec.calibration import Calibration, calibration_beside
from textrec.charset import Charset, dictionary_beside
from textrec.ctc import Prediction
from textrec.inference.bundled import BUNDLED_BACKBONE, bundled_file, bundled_model, bundled_variant
from textrec.inference.engines import Engine, load_engine
from textrec.inference.orientation import most_confident, views
from textrec.inference.predict import ImageResult, decode, predict_paths
from textrec.preprocess import IMAGE_SHAPE, ImageDecodeError, decode_image

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray
CalibrationArg = str | os.PathLike | Calibration | bool | None

logger = logging.getLogger(__name__)
__all__ = ["BUNDLED_BACKBONE", "ImageInput", "Prediction", "Recognizer"]
# the metadata key an ONNX export carries its dictionary in (textrec.export.bundle writes it, checked below)
CHARACTERS_KEY = "textrec.characters"


def _resolve(model: str | os.PathLike | None, dictionary: str | os.PathLike | None,
             backbone: str | None) -> tuple[Path, str | os.PathLike | None, str | None]:
    """(model file or directory, dictionary file or None for the built-in, backbone) of a model argument:
    a bundled name is the package's file with the bundle's dictionary (unless one is given)."""
    variant = bundled_variant(model)
    if variant is None:  # a model file: the dictionary beside it (<stem>.dict.txt) unless one is given
        side = dictionary_beside(model)  # type: ignore[arg-type]
        return Path(model), dictionary or (side if side.is_file() else None), backbone  # type: ignore[arg-type]
    found = bundled_model(variant)
    return found.path, dictionary or found.dictionary, backbone or found.backbone


def _check_dictionary(engine: Engine, charset: Charset, model: Path, dictionary: str | os.PathLike | None) -> None:
    """An ONNX export names its dictionary: a different one would decode every class id to the wrong
    character, so it is refused (one line) rather than read as garbage."""
    metadata = getattr(engine, "metadata", {})
    exported = metadata.get(CHARACTERS_KEY)
    if exported is not None and exported != "".join(charset.characters):
        given = dictionary or "the built-in 0-9a-z dictionary"
        raise ValueError(f"{model} was exported for a {len(exported)}-character dictionary ({exported[:40]!r}"
                         f"{'...' if len(exported) > 40 else ''}) but {given} has {len(charset.characters)}: "
                         "pass the model's own dictionary file (--dict / dictionary=)")


def _tune_paddle(threads: int | None) -> None:
    """Paddle's CPU settings before the first computation, as the DVC stages apply them (``textrec.runtime``):
    an eager model otherwise runs on one thread and, on AMD CPUs, on MKL's slow SSE path."""
    from textrec.runtime import configure_runtime

    configure_runtime("cpu", threads=threads or os.cpu_count())


def _array_to_bgr(a: np.ndarray, bgr: bool) -> np.ndarray:
    """uint8 HxW / HxWx1 / HxWx3 / HxWx4 -> uint8 HxWx3 BGR, what ``cv2.imdecode`` gives for a file."""
    if a.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image array, got {a.dtype} (scale to 0-255 and .astype(np.uint8))")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)  # a grayscale file decodes to 3 equal channels too
    elif a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an image array HxW, HxWx3 or HxWx4, got shape {list(a.shape)}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ImageDecodeError(f"empty image array of shape {list(a.shape)}")
    a = a[:, :, :3]  # alpha dropped, as cv2.IMREAD_COLOR drops it
    return np.ascontiguousarray(a if bgr else a[:, :, ::-1])


def _decode(item: ImageInput, bgr: bool) -> np.ndarray:
    """One image -> uint8 BGR [H, W, 3] (what ``textrec.preprocess`` resizes)."""
    if isinstance(item, np.ndarray):
        return _array_to_bgr(item, bgr)
    if isinstance(item, bytes | bytearray | memoryview):
        return decode_image(bytes(item))
    if isinstance(item, str | os.PathLike):
        try:
            return decode_image(Path(item).read_bytes())
        except ImageDecodeError as e:
            raise ImageDecodeError(f"{item}: {e}") from None
    raise TypeError(f"expected a file path, image bytes or a uint8 array, got {type(item).__name__}")


def _is_one_image(images: object) -> bool:
    if isinstance(images, np.ndarray):
        return images.ndim != 4  # NxHxWxC is a batch; anything else is checked as one image
    return isinstance(images, str | os.PathLike | bytes | bytearray | memoryview)


def _model_calibration(given: CalibrationArg, model: str | os.PathLike | None, path: Path,
                       backbone: str | None) -> Calibration | None:
    """The calibration ``given`` (a file or a Calibration; False: none), else the model's own: beside the
    model file, or for a bundled name the bundle's (one for all three bundled files). A model without one
    is said once (the confidences stay raw); a corrupt file raises CalibrationError (one line)."""
    if given is False:
        return None
    if isinstance(given, Calibration):
        return given
    if given is not None and given is not True:
        return Calibration.load(given)
    own = path if bundled_variant(model) is None else bundled_file(backbone or BUNDLED_BACKBONE, "onnx")
    found = calibration_beside(own)
    if found is None:
        logger.warning("%s has no calibration: confidences are the model's raw scores, not probabilities "
                       "(fit one with `textrec calibrate`)", path)
        return None
    return Calibration.load(found)


class Recognizer:
    """A loaded model plus its charset: ``rec(image) -> Prediction``, ``rec([images]) -> [Prediction]``.

    ``model``: a ``.pdparams`` checkpoint (ours or PaddleOCR's), an exported inference directory, an
    ``.onnx`` file, or a bundled model by name: None or ``"bundled"`` (the ONNX file shipped in the package),
    ``"bundled:int8"``, ``"bundled:pdparams"`` (needs paddle). ``dictionary``: the model's dictionary file
    (None: the bundle's own for a bundled model, else the built-in 0-9a-z; an ONNX export that names
    another is refused). ``backbone``: for a ``.pdparams`` file, detected when None.
    ``threads``: CPU threads (None: all cores). ``batch_size``: images per model call.
    ``tune_runtime``: for an eager ``.pdparams`` model, apply ``textrec.runtime.configure_runtime`` in this
    process first, as the CLI and the stages do (paddle threads, MKL's AVX2 path on AMD CPUs, glibc keeping
    freed memory: process-wide, hence the switch); ONNX and exported models take ``threads`` themselves.
    ``calibration``: None (the model's own, see the module docstring), a calibration file or ``Calibration``,
    or False (raw confidences); ``rec.calibration`` is the one in use (None: raw).
    ``log``: an SQLite file to log every prediction to (opt-in; ``enable_log``).
    ``rotate_portrait``: read a crop at least 1.5 times as high as wide also turned 90 degrees each way and
    keep the most confident reading (``textrec.inference.orientation``); False reads every image as given.
    """

    def __init__(self, model: str | os.PathLike | None = None, *, dictionary: str | os.PathLike | None = None,
                 backbone: str | None = None, threads: int | None = None, batch_size: int = 32,
                 tune_runtime: bool = True, calibration: CalibrationArg = None,
                 log: str | os.PathLike | None = None, rotate_portrait: bool = True) -> None:
        path, dictionary, backbone = _resolve(model, dictionary, backbone)
        charset = Charset.from_file(dictionary)
        if tune_runtime and path.suffix == ".pdparams" and path.is_file():
            _tune_paddle(threads)
        engine = load_engine(path, charset.num_classes, backbone, threads)
        _check_dictionary(engine, charset, path, dictionary)
        self.model: Path | None = path
        self._setup(engine, charset, batch_size, _model_calibration(calibration, model, path, backbone),
                    rotate_portrait)
        if log is not None:
            self.enable_log(log)

    @classmethod
    def from_engine(cls, engine: Engine, charset: Charset | None = None, batch_size: int = 32,
                    calibration: Calibration | None = None, rotate_portrait: bool = True) -> Recognizer:
        """Wrap an engine built elsewhere (e.g. an ``OnnxEngine`` with chosen session options); ``calibration``:
        the one to apply (None: raw confidences, without a note)."""
        rec = cls.__new__(cls)
        rec.model = None
        rec._setup(engine, charset or Charset.from_file(None), batch_size, calibration, rotate_portrait)
        return rec

    def _setup(self, engine: Engine, charset: Charset, batch_size: int,
               calibration: Calibration | None = None, rotate_portrait: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.engine, self.charset, self.batch_size = engine, charset, batch_size
        self.calibration = calibration  # None: raw confidences
        self.rotate_portrait = rotate_portrait
        self.log = None  # a textrec.monitoring PredictionLogger once enable_log is called

    def enable_log(self, path: str | os.PathLike, *, model: str | None = None, version: str | None = None,
                   cfg=None, source: str = "api"):
        """Log every prediction of ``rec(...)`` and ``predict_files`` (time, model, version, text, confidence,
        image size and hashes, the image within ``cfg``'s bounds: ``textrec.monitoring.store``) to the SQLite
        file ``path``. ``model``/``version`` default to the model file's name and sha256 (with its calibration's).
        Logging runs in a background thread and never fails a prediction; ``rec.log.stats()`` counts what could
        not be logged."""
        from textrec.monitoring.hooks import identity
        from textrec.monitoring.store import PredictionLogger

        name, own_version = identity(self) if model is None or version is None else (model, version)
        self.log = PredictionLogger(path, model or name, version or own_version, cfg, source)
        return self.log

    def _log(self, images: Sequence, preds: Sequence, bgr: bool = False) -> None:
        if self.log is not None:
            from textrec.monitoring.store import LogItem

            self.log.log([LogItem(i, p.text, p.confidence, bgr) for i, p in zip(images, preds, strict=True)])

    @overload
    def __call__(self, images: ImageInput, *, bgr: bool = False) -> Prediction: ...
    @overload
    def __call__(self, images: Sequence[ImageInput], *, bgr: bool = False) -> list[Prediction]: ...

    def __call__(self, images, *, bgr: bool = False):
        """Text and confidence of one image, or of each image of a batch (see the module docstring).
        ``bgr``: arrays with 3 or 4 channels are in OpenCV's BGR(A) order (default RGB(A)); files and bytes
        are decoded by OpenCV and need no hint. A bad image raises, naming its path or batch index."""
        one = _is_one_image(images)
        items = [images] if one else list(images)
        decoded = []
        for i, item in enumerate(items):
            try:
                decoded.append(_decode(item, bgr))
            except (ImageDecodeError, ValueError, TypeError) as e:
                if one:
                    raise
                raise type(e)(f"image {i}: {e}") from None
        preds = self.predict_bgr(decoded)
        self._log(items, preds, bgr)
        return preds[0] if one else preds

    def predict_bgr(self, images: Sequence[np.ndarray], image_shape: tuple[int, int, int] = IMAGE_SHAPE,
                    ) -> list[Prediction]:
        """Decoded images, uint8 BGR [H, W, 3] each -> one Prediction each; a portrait crop read turned too
        when ``rotate_portrait`` (``textrec.inference.orientation``)."""
        x, counts = [], []  # the views of every image [3, 32, 100], how many each
        for img in images:
            v = views(img, self.rotate_portrait, image_shape)
            x += v
            counts.append(len(v))
        batch = np.stack(x) if x else np.empty((0, *image_shape), dtype=np.float32)  # [V, 3, 32, 100]
        return most_confident(self.predict_inputs(batch), counts)

    def predict_inputs(self, x: np.ndarray) -> list[Prediction]:
        """Preprocessed images [N, 3, 32, W] float32 (``textrec.preprocess``) -> one Prediction each,
        ``batch_size`` at a time."""
        out: list[Prediction] = []
        for i in range(0, len(x), self.batch_size):
            probs = np.asarray(self.engine(x[i:i + self.batch_size]))  # [n, T, C]
            out.extend(decode(probs, self.charset, self.calibration))
        return out

    def predict_files(self, paths: Iterable[Path], progress: bool = False) -> list[ImageResult]:
        """Like ``rec(paths)``, but an unreadable file becomes a result with ``error`` set (and the rest are
        still read): what ``textrec predict`` prints. ``progress``: a bar on stderr counts the files."""
        results = predict_paths(self.engine, paths, self.charset, self.batch_size, progress, self.calibration,
                                self.rotate_portrait)
        read = [r for r in results if r.error is None]
        self._log([r.path for r in read], read)
        return results

    def __repr__(self) -> str:
        return f"Recognizer({str(self.model)!r})" if self.model else f"Recognizer.from_engine({self.engine!r})"
