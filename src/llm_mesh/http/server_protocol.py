"""uvicorn's HTTP protocol with a deadline on request headers, and the server's timeout options.

uvicorn times out idle keep-alive connections, but not a connection that is sending its
request line and headers: one byte every few seconds (or nothing at all after connecting)
holds a connection and its memory for as long as the client likes. ``MeshHttpProtocol``
answers 408 and closes when the headers of a request are not complete within
``header_timeout`` seconds of the connection opening or of the first byte of the next
request on a kept-alive connection. The body has its own deadline where it is read
(``llm_mesh.http.body``).

The deadline is a class attribute so the class pickles by name into ``--workers`` processes;
``configure(server_config)`` sets it from mesh.yaml in each process that builds the app.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from llm_mesh.errors import RequestTimeout

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

DEFAULT_HEADER_TIMEOUT = 10.0


def _timeout_response() -> bytes:
    body = json.dumps(RequestTimeout("the request headers did not arrive in time").to_body()).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class MeshHttpProtocol(_Base):  # type: ignore[misc,valid-type]
    header_timeout: float = DEFAULT_HEADER_TIMEOUT

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._header_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self._between_requests():
            self._arm_header_deadline()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self._header_timer is not None and not self._between_requests():
            self._disarm_header_deadline()

    def _between_requests(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return cycle is None or cycle.response_complete

    def _arm_header_deadline(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_timed_out)

    def _disarm_header_deadline(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_timed_out(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or not self._between_requests():
            return
        self.transport.write(_timeout_response())
        self.transport.close()


def configure(server: Any) -> None:
    """Apply mesh.yaml's ``server`` header deadline to every connection this process accepts."""
    MeshHttpProtocol.header_timeout = float(getattr(server, "header_timeout_seconds", DEFAULT_HEADER_TIMEOUT))


def server_options(server: Any) -> dict[str, Any]:
    """uvicorn options for mesh.yaml's ``server`` section: the protocol above, the keep-alive
    timeout and the bound on a request head that h11 buffers before giving up (431)."""
    configure(server)
    return {"http": MeshHttpProtocol, "timeout_keep_alive": int(getattr(server, "keep_alive_seconds", 5)),
            "h11_max_incomplete_event_size": 64 * 1024}
