"""Slow clients against ``mesh serve``, over raw sockets: a connection that sends nothing, one that
sends half its headers and stops, one that trickles its headers a byte at a time and one that
stops halfway through its body are each answered 408 in the OpenAI error shape and closed by the
server (deadlines from mesh.yaml's ``server`` section). Nothing here times the server: each read
waits for the server to answer or close, bounded only by a generous socket timeout."""

from __future__ import annotations

import json
import select
import socket

import httpx
import pytest

from tests.hostile.common import openai_error
from tests.hostile.served import BOUND, free_port, make_key, serve, write_config

CONFIG = {
    "server": {"header_timeout_seconds": 1, "body_timeout_seconds": 1},
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"slow": {"routes": "*"}},
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    directory = tmp_path_factory.mktemp("slow-clients")
    config, data = write_config(directory, CONFIG), directory / "data"
    served = serve(config, data, free_port(), make_key(config, data, "slow"))
    try:
        yield served
    finally:
        served.stop()


def _connect(mesh) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", mesh.port))
    sock.settimeout(BOUND)  # an upper bound on each read, never an expectation
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _assert_408(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    error = json.loads(body)
    assert openai_error(error) and error["error"]["code"] == "request_timeout", error


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(mesh):
    with _connect(mesh) as sock:
        _assert_408(_until_closed(sock))


def test_half_sent_headers_are_answered_408_and_closed(mesh):
    with _connect(mesh) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: mesh\r\nContent-Type: app")
        _assert_408(_until_closed(sock))


def test_headers_trickled_a_byte_at_a_time_are_cut_off(mesh):
    head = b"GET /health HTTP/1.1\r\nHost: mesh\r\n" + b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 40) for i in range(200))
    with _connect(mesh) as sock:
        for byte in head:  # 9,000 bytes, one per 50 ms, would take minutes: the header deadline ends it first
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if select.select([sock], [], [], 0.05)[0]:  # the server answered (or closed)
                break
        else:
            raise AssertionError("the server let the whole trickled head in")
        _assert_408(_until_closed(sock))


def test_a_body_that_stops_halfway_is_answered_408_and_closed(mesh):
    body = json.dumps({"model": "echo", "messages": [{"role": "user", "content": "hello " * 20}]}).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: mesh\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + mesh.key.encode() + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    with _connect(mesh) as sock:
        sock.sendall(head + body[: len(body) // 2])
        _assert_408(_until_closed(sock))


def test_a_client_that_sends_promptly_is_still_served_after_the_slow_ones(mesh):
    answer = httpx.post(mesh.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {mesh.key}"},
                        json={"model": "echo", "messages": [{"role": "user", "content": "hi"}]}, timeout=BOUND)
    assert answer.status_code == 200, answer.text
