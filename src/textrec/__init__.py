"""textrec: reproducible CRNN scene-text recognition (PaddleOCR-identical models) as an MLOps pipeline.

Importing the package is cheap and has no side effects: paddle, mlflow, great_expectations and prefect
are imported inside the functions that need them.
"""

__version__ = "0.1.0"
