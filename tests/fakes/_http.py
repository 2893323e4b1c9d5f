"""The loopback HTTP/1.1 server behind the JSON/SSE upstream fakes (Gemini, Cohere).

``LoopbackServer`` records every POST and writes the ``Reply`` its handler returns:
JSON, or SSE frames (optionally chunked and dropped mid-chunk, or ended by closing
the connection). ``LoopbackUpstream`` is the base of a fake: a context manager that
runs the server, with ``base_url`` and the recorded ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Self
from urllib.parse import parse_qs, unquote, urlparse


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Reply:
    status: int = 200
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[bytes] | None = None  # raw frames, written one by one
    abort_after: int | None = None  # chunked: drop the connection after this many frames
    delay: float = 0.0


class LoopbackServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 whose replies come from ``handle``."""

    def __init__(self, handle: Callable[[Recorded], Reply]) -> None:
        self._handle = handle
        self.requests: list[Recorded] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                parsed = urlparse(self.path)
                ctype = self.headers.get("content-type", "")
                if "application/x-www-form-urlencoded" in ctype:
                    body: Any = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = raw
                record = Recorded("POST", unquote(parsed.path), parse_qs(parsed.query),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
                outer.requests.append(record)
                reply = outer._handle(record)
                if reply.delay:
                    time.sleep(reply.delay)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.sse is None:
                    payload = json.dumps(reply.json).encode()
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json; charset=UTF-8")
                    self.send_header("content-length", str(len(payload)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(reply.status)
                self.send_header("content-type", "text/event-stream")
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.abort_after is not None:
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for i, frame in enumerate(reply.sse):
                        if i == reply.abort_after:
                            # Announce a chunk, send half of it, then drop the connection.
                            self.wfile.write(f"{len(frame):x}\r\n".encode() + frame[: len(frame) // 2])
                            self.wfile.flush()
                            self.connection.shutdown(socket.SHUT_RDWR)
                            self.close_connection = True
                            return
                        self.wfile.write(f"{len(frame):x}\r\n".encode() + frame + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                # No length, no chunking: the body ends when the connection closes.
                self.send_header("connection", "close")
                self.end_headers()
                for frame in reply.sse:
                    self.wfile.write(frame)
                    self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for a text."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(v / 2**31 for v in struct.unpack("<8i", digest))
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def words(text: str) -> int:
    return len(text.split())


class LoopbackUpstream:
    """Base of a fake upstream: ``with Fake() as fake`` serves ``self._handle`` on loopback."""

    def __init__(self) -> None:
        self._server = LoopbackServer(self._handle)

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.root_url

    @property
    def requests(self) -> list[Recorded]:
        return self._server.requests

    def _handle(self, req: Recorded) -> Reply:
        raise NotImplementedError
