"""ASGI middleware in front of MLflow's scoring app: bounded request bodies, short error bodies.

    app = RequestGuard(mlflow_scoring_app, max_request_bytes=20_000_000)

* A body over ``max_request_bytes`` gets 413 and is never held in memory: at most ``max_request_bytes``
  of a body is kept. Past the limit the rest is read and dropped, up to as much again, so that a client
  that sends everything before reading still gets the 413; a client that sent ``Expect: 100-continue``
  with a Content-Length over the limit, or a Content-Length over twice the limit, is refused before any
  of its body is read.
* Every 4xx/5xx response of the inner app is replaced by ``{"error_code": ..., "message": ...}`` of at most
  ~1 kB (``errors.describe``): only the first ``errors.HEAD_BYTES`` of the inner body are looked at and
  none of it is copied, except a message of the served model's own (``MODEL_REFUSAL``).
* An exception in the inner app before its response started becomes a 500 of the same form; the traceback
  goes to the server log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from textrec.serving import errors

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]

_log = logging.getLogger("textrec.serve")


async def send_error(send: Send, status: int, code: str, message: str) -> None:
    body = errors.error_body(code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _header(scope: Message, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


class _ClientGone(Exception):
    """The client disconnected before its body was read: nobody to answer."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when it is longer than ``limit`` bytes. Past the limit the chunks are
    dropped as they come, up to ``limit`` more bytes: a client that sends its whole body before reading
    (urllib and requests send ``Connection: close``, and uvicorn then closes at once after the response,
    resetting a connection whose data is unread) still reads the 413. Beyond that it may see a reset."""
    chunks: list[bytes] | None = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            chunks = None  # over: nothing more is kept
        elif chunks is not None:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return None if chunks is None else b"".join(chunks)
        if size > 2 * limit:
            return None


class _Replay:
    """``receive`` for the inner app: the body already read, then the client's own messages (disconnect)."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body: bytes | None = body
        self.receive = receive

    async def __call__(self) -> Message:
        if self.body is None:
            return await self.receive()
        message = {"type": "http.request", "body": self.body, "more_body": False}
        self.body = None  # the inner app holds its own reference; ours goes
        return message


class _ErrorRewriter:
    """``send`` for the inner app: passes responses below 400 on; holds an error response and sends a short
    JSON error in its place, having kept only the first ``errors.HEAD_BYTES`` of the inner body."""

    def __init__(self, send: Send) -> None:
        self.send_out = send
        self.status: int | None = None  # of a held error response
        self.head = bytearray()
        self.sent_start = False  # anything sent to the client yet

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            self.status = message["status"]
            return
        if message["type"] == "http.response.body" and self.status is not None:
            self.head += message.get("body", b"")[:errors.HEAD_BYTES - len(self.head)]
            if not message.get("more_body", False):
                code, text = errors.describe(self.status, bytes(self.head))
                if self.status >= 500:
                    _log.warning("HTTP %d from the scoring app (error code %s) replaced by a short error",
                                 self.status, errors.inner_code(bytes(self.head)))
                self.sent_start = True
                await send_error(self.send_out, self.status, code, text)
            return
        self.sent_start = True
        await self.send_out(message)


class RequestGuard:
    def __init__(self, app: ASGIApp, max_request_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan events: no request, no response
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        declared = int(declared) if declared and declared.isdigit() else None  # uvicorn refuses bad ones
        # a client waiting for "100 Continue" sends its body only once it is asked for (receive): refused
        # before that, it never sends it; so is a body too big to be read through
        at_once = declared is not None and declared > self.max_request_bytes and (
            _header(scope, b"expect") == b"100-continue" or declared > 2 * self.max_request_bytes)
        try:
            body = None if at_once else await _read_body(receive, self.max_request_bytes)
        except _ClientGone:
            return
        if body is None:
            await send_error(send, 413, *errors.too_large(self.max_request_bytes))
            return
        out = _ErrorRewriter(send)
        try:
            await self.app(scope, _Replay(body, receive), out)
        except Exception:
            if out.sent_start:
                raise  # too late for an error response: uvicorn closes the connection
            _log.exception("the scoring app failed on %s %s", scope.get("method"), scope.get("path"))
            await send_error(send, 500, *errors.internal(500))
