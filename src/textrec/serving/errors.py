"""What a refused request is told: a short JSON error built from a bounded head of the inner error body.

MLflow's scoring app writes errors as ``{"error_code": "...", "message": "..."}`` (415s as plain text), and
several of its messages quote the request (``Input: b'{"inputs": ...``, ``Got '<content type>'``). Only the
served model's own refusals are passed on (they start with ``MODEL_REFUSAL`` and are built from counts,
sizes and row numbers: ``tracking/images.py``); every other error gets a fixed sentence chosen from the
status and the start of MLflow's message, never a copy of it.
"""

from __future__ import annotations

import json
import re

from textrec.tracking.images import MODEL_REFUSAL

MAX_MESSAGE = 400  # characters of a passed-on model message; theirs are one short sentence
# what is read of an inner error body: enough for the code and a model message, however long the body
HEAD_BYTES = 4096
ENDPOINTS = "POST /invocations, GET /ping, /health, /version"
REQUEST_FORMAT = ('send {"inputs": {"image": [<base64 image>, ...]}} as application/json '
                  '(or {"dataframe_split": {"columns": ["image"], "data": [[<base64 image>], ...]}})')

# (start of MLflow's message with any "Invalid input. " removed, what the client is told instead)
_MLFLOW_MESSAGES = (
    ("Ensure that input is a valid JSON", f"the body is not valid JSON in UTF-8: {REQUEST_FORMAT}"),
    ("Ensure that input is a valid UTF-8", "the body is not valid UTF-8"),
    ("The input must be a JSON dictionary", f"the body is not a JSON object with one input field: {REQUEST_FORMAT}"),
    ("Failed to parse input as a Pandas DataFrame", f"the body could not be read as a table: {REQUEST_FORMAT}"),
    ("Data is not compatible with model signature", f"the input does not fit the model: {REQUEST_FORMAT}"),
    ("Failed to predict data", f"the input does not fit the model: {REQUEST_FORMAT}"),
    ("Encountered an unexpected error while evaluating", f"the model could not process this input: "
                                                         f"{REQUEST_FORMAT}"),
)
_BY_STATUS = {
    404: ("ENDPOINT_NOT_FOUND", f"no such endpoint; this server answers {ENDPOINTS}"),
    405: ("METHOD_NOT_ALLOWED", f"method not allowed; this server answers {ENDPOINTS}"),
    415: ("UNSUPPORTED_MEDIA_TYPE", f"unsupported content type: {REQUEST_FORMAT}, charset utf-8 if any"),
    504: ("DEADLINE_EXCEEDED", "the request took longer than the server's time limit "
                               "(MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT)"),
}
# how MLflow's MlflowException.serialize_as_json starts (json.dumps, error_code first): anchored at the
# start of the body, so nothing quoted later in the message can pass for it
_MLFLOW_ERROR = re.compile(rb'\{"error_code": "([A-Z_]{1,64})", "message": "')


def too_large(limit: int) -> tuple[str, str]:
    return "REQUEST_TOO_LARGE", (f"request body larger than the limit of {limit} bytes "
                                 "(promotion.max_request_bytes): send fewer or smaller images per request")


def internal(status: int) -> tuple[str, str]:
    return "INTERNAL_ERROR", f"internal server error (HTTP {status}); the server log has the details"


def _inner(head: bytes) -> tuple[str | None, str | None, str]:
    """(error_code, message, start of message) of MLflow's JSON error: the message is None when it runs
    past the head; its start only serves to recognise MLflow's kind of error (never shown)."""
    m = _MLFLOW_ERROR.match(head)
    if not m:
        return None, None, ""
    text, at = head.decode("utf-8", errors="replace"), m.end()  # the matched start is ASCII: same index
    try:
        message = json.decoder.scanstring(text, at)[0]
    except ValueError:  # cut off by the head
        message = None
    return m[1].decode(), message, text[at:at + 200].removeprefix("Invalid input. ")


def inner_code(head: bytes) -> str | None:
    """MLflow's error code of an inner error body, for the server log."""
    return _inner(head)[0]


def describe(status: int, head: bytes) -> tuple[str, str]:
    """(error_code, message) for a client that got ``status``; ``head`` is the start of the inner body."""
    if status >= 500 and status != 504:
        return internal(status)
    code, message, start = _inner(head)
    if (message is not None and message.startswith(MODEL_REFUSAL) and len(message) <= MAX_MESSAGE
            and message.isprintable()):
        return code or "INVALID_PARAMETER_VALUE", message
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    for prefix, text in _MLFLOW_MESSAGES:
        if start.startswith(prefix):
            return code or "BAD_REQUEST", text
    return code or "BAD_REQUEST", f"the request was refused (HTTP {status}): {REQUEST_FORMAT}"


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error_code": code, "message": message}).encode()
