"""AWS event stream frame ENCODER and a small loopback HTTP server for AWS fakes.

Frame layout (``application/vnd.amazon.eventstream``, per the AWS event stream
encoding docs), all integers big-endian:

    total length (u32) | headers length (u32) | prelude CRC32 (u32, of the 8 bytes before)
    headers | payload | message CRC32 (u32, of every byte before it)

Each header: name length (u8), name (utf-8), value type (u8; 7 = string),
value length (u16), value (utf-8). Total overhead is 16 bytes plus headers.

botocore parses these frames and validates both CRCs, so driving boto3 against
the fakes proves the encoding is right.
"""

from __future__ import annotations

import binascii
import json
import socket
import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator, TypeVar

HEADER_TYPE_STRING = 7


def encode_headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", HEADER_TYPE_STRING, len(raw_value)) + raw_value
    return bytes(out)


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    header_bytes = encode_headers(headers)
    total = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total, len(header_bytes))
    prelude_crc = struct.pack(">I", binascii.crc32(prelude) & 0xFFFFFFFF)
    body = prelude + prelude_crc + header_bytes + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def event_frame(event_type: str, payload: Any, content_type: str = "application/json") -> bytes:
    """An ``event`` message; JSON payloads are serialised, bytes sent as-is."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    return encode_frame(
        {":event-type": event_type, ":content-type": content_type, ":message-type": "event"}, data
    )


def exception_frame(exception_type: str, payload: dict[str, Any]) -> bytes:
    """An ``exception`` message (a modelled error inside the stream)."""
    return encode_frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps(payload, separators=(",", ":")).encode(),
    )


# ------------------------------------------------------------------ HTTP plumbing
@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class Reply:
    """What a route handler wants sent back."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        frames: list[bytes] | None = None,
        cut_after: int | None = None,
        cut_mid_frame: bool = False,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.frames = frames  # a chunked stream of these byte strings
        self.cut_after = cut_after  # close the connection after this many frames
        self.cut_mid_frame = cut_mid_frame  # ...and send half of the next frame first


def aws_error(status: int, code: str, message: str, extra: dict[str, Any] | None = None) -> Reply:
    """AWS rest-json error: ``x-amzn-ErrorType`` header and ``{"message"}`` body."""
    return Reply(
        status=status,
        body=json.dumps({"message": message, **(extra or {})}).encode(),
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.fake/",
        },
    )


@dataclass
class FakeAwsServer:
    """Threaded loopback HTTP/1.1 server dispatching POSTs to ``handler(recorded)``."""

    handler: Callable[[Recorded], Reply]
    requests: list[Recorded] = field(default_factory=list)

    def start(self) -> "FakeAwsServer":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                fake.requests.append(recorded)
                try:
                    reply = fake.handler(recorded)
                except Exception as exc:  # a bug in the fake: make it visible
                    reply = aws_error(500, "InternalServerException", f"fake failed: {exc!r}")
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                self.send_header("x-amzn-RequestId", f"req-{len(fake.requests)}")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.frames is None:
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for index, frame in enumerate(reply.frames):
                    if reply.cut_after is not None and index >= reply.cut_after:
                        if reply.cut_mid_frame:
                            self._chunk(frame[: len(frame) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        try:
                            self.connection.shutdown(socket.SHUT_RDWR)
                        except OSError:
                            pass
                        return
                    self._chunk(frame)
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class AwsFake:
    """Base of an AWS service fake: ``handle`` answers each request on ``server``."""

    server: FakeAwsServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    @property
    def requests(self) -> list[Recorded]:
        assert self.server is not None
        return self.server.requests

    def handle(self, request: Recorded) -> Reply:
        raise NotImplementedError


F = TypeVar("F", bound=AwsFake)


@contextmanager
def serving(fake: F) -> Iterator[F]:
    """Run ``fake`` on a loopback server for the ``with`` block."""
    fake.server = FakeAwsServer(fake.handle).start()
    try:
        yield fake
    finally:
        fake.server.stop()
