"""MLflow "models from code" entry point for the recognizer: MLflow copies this file into the logged model
and runs it at load time. Nothing in textrec imports it."""

from mlflow.models import set_model

from textrec.tracking.recognizer import CrnnRecognizer

set_model(CrnnRecognizer())
