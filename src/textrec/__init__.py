"""textrec: reproducible CRNN scene-text recognition (PaddleOCR-identical models) as an MLOps pipeline.

Importing the package is cheap and has no side effects: paddle, mlflow, great_expectations and prefect
are imported inside the functions that need them. ``Recognizer`` and ``Prediction`` (the Python API, see
``textrec.inference.recognizer``) are loaded on first access.

    from textrec import Recognizer
    Recognizer()("word.png")   # -> Prediction(text=..., confidence=...)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Prediction", "Recognizer", "__version__"]

if TYPE_CHECKING:
    from textrec.inference.recognizer import Prediction, Recognizer


def __getattr__(name: str) -> object:
    if name in ("Prediction", "Recognizer"):
        from textrec.inference import recognizer

        return getattr(recognizer, name)
    raise AttributeError(f"module 'textrec' has no attribute {name!r}")
