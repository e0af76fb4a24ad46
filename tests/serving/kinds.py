"""The kinds of request the serving tests send, good and bad, each as raw HTTP over a new connection, and
the check that an error body quotes nothing of its request."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SECRET = b"SECRET_TOKEN_7f3a9c"
JSON = "application/json"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def png_b64() -> str:
    import cv2
    import numpy as np

    img = np.full((32, 100, 3), 255, np.uint8)
    cv2.putText(img, "ok", (20, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
    return base64.b64encode(cv2.imencode(".png", img)[1].tobytes()).decode()


def post(url: str, body: bytes, content_type: str = JSON, path: str = "/invocations", chunked: bool = False,
         method: str = "POST") -> Answer:
    """One request on a new connection, sent whole before the answer is read (as urllib or requests do)."""
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        headers = {"Content-Type": content_type, "Connection": "close"}
        if chunked:
            conn.request(method, path, body=iter([body[i:i + 65536] for i in range(0, len(body), 65536)]),
                         headers=headers, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return Answer(r.status, r.read())
    finally:
        conn.close()


def post_expecting_continue(url: str, declared: int) -> Answer:
    """Headers only, declaring ``declared`` bytes and waiting for "100 Continue" (as curl does for a big body);
    the answer is read before any of the body is sent."""
    u = urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=60) as s:
        s.sendall(f"POST /invocations HTTP/1.1\r\nHost: {u.hostname}\r\nContent-Type: {JSON}\r\n"
                  f"Content-Length: {declared}\r\nExpect: 100-continue\r\n\r\n".encode())
        raw = b""
        while b"\r\n\r\n" not in raw:
            raw += s.recv(65536)
        head, _, body = raw.partition(b"\r\n\r\n")
        status = int(head.split()[1])
        if status == 100:  # the server asks for the body: it would read the whole gigabyte
            return Answer(status, b"")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += s.recv(65536)
        return Answer(status, body)


def malformed_json(size: int = 100_000) -> bytes:
    """A JSON document cut off in its first string, holding SECRET again and again."""
    return (b'{"inputs": {"image": ["' + SECRET * (size // len(SECRET) + 1))[:size]


def good(image: str) -> bytes:
    return json.dumps({"inputs": {"image": [image]}}).encode()


def padded(image: str, size: int) -> bytes:
    """A good request of exactly ``size`` bytes: MLflow ignores top-level keys other than its input fields."""
    head = json.dumps({"inputs": {"image": [image]}, "pad": ""}).encode()
    return head[:-2] + b"x" * (size - len(head)) + head[-2:]


def quotes(response: bytes, request: bytes, window: int = 8) -> bool:
    """Whether ``response`` holds any ``window`` consecutive bytes of ``request``, as sent or as Python
    or JSON would quote them (MLflow echoed random bytes as ``b'\\x89...'``). Meant for random requests:
    a JSON request shares its field names with the error messages' example."""
    forms = (request, repr(request).encode(), json.dumps(request.decode("latin-1")).encode())
    return any(response[i:i + window] in form for form in forms for i in range(len(response) - window + 1))


def random_bytes(n: int = 2000) -> bytes:
    return os.urandom(n)
