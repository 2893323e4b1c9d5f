"""The same planted value (an SSN) in every request field the OpenAI Chat, Responses and
Anthropic Messages shapes allow (``planted_cases``), sent with the official openai and
anthropic SDKs over loopback to a mesh in front of the OpenAI and Anthropic upstream fakes.

- under a redact policy the value never reaches either fake raw: every byte of every body
  (and header) the fake received is searched;
- under a block policy every request is a 4xx in its API's own error shape, no fake is called
  and the error does not quote the value (``DROPPED``: fields the inbound API drops, which
  never leave the mesh, so nothing is blocked and nothing is sent);
- after each request (request log, ledger, audit, the exact cache and stored Responses all
  on), the value is in no file under the mesh's data directory: mesh.db, its -wal and
  -journal, spills.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.fakes.anthropic_upstream import start_fake_anthropic
from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import RunningMesh, serve_mesh
from tests.policy.planted_cases import CASES, IDS, STREAMED, V

UPSTREAMS = ("openai", "anthropic")
# Shapes a provider cannot take: the mesh answers 400 before anything is sent.
UNSUPPORTED = {("chat", "file_id", "anthropic")}
# Fields the inbound API accepts and drops (unknown top-level fields of Responses and Anthropic
# Messages requests): they never leave the mesh, so under a block policy the request goes ahead
# without them and the value still reaches no upstream.
DROPPED = {("responses", "extra_body"), ("anthropic", "extra_body")}
MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5"}


def _config(openai_url: str, anthropic_url: str) -> dict[str, Any]:
    routes = {f"{policy}-{up}": {"provider": up, "model": MODELS[up]} for policy in ("redact", "block") for up in UPSTREAMS}
    return {
        "providers": {"openai": {"kind": "openai", "base_url": openai_url, "api_key": {"env": "OA_KEY"}},
                      "anthropic": {"kind": "anthropic", "base_url": anthropic_url, "api_key": {"env": "AN_KEY"}}},
        "routes": routes,
        "policies": {"redact": {"actions": {"US_SSN": "redact"}, "restore_output": True},
                     "block": {"actions": {"US_SSN": "block"}}},
        "governance": {"bindings": {"routes": {name: name.split("-")[0] for name in routes}},
                       "audit": {"enabled": True}},
        "costs": {"prices": {up: {MODELS[up]: {"input": "1", "output": "2"}} for up in UPSTREAMS},
                  "cache": {"ttl_seconds": 600, "default": {"mode": "exact", "temperature_any": True}}},
    }


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[RunningMesh, dict[str, Any]]]:
    with start_fake_openai(api_key="oa-key") as oa, start_fake_anthropic(api_key="an-key") as an:
        with serve_mesh(_config(oa.base_url, an.base_url), env={"OA_KEY": "oa-key", "AN_KEY": "an-key"}) as mesh:
            yield mesh, {"openai": oa, "anthropic": an}


_CLIENTS: dict[tuple[str, str, str], Any] = {}


def _client(mesh: RunningMesh, kind: str) -> Any:
    """One SDK client per mesh and kind (building one per call costs more than the call)."""
    key = (mesh.root_url, mesh.api_key, kind)
    if key not in _CLIENTS:
        _CLIENTS[key] = (anthropic.Anthropic(base_url=mesh.root_url, api_key=mesh.api_key, max_retries=0, timeout=20)
                         if kind == "anthropic" else
                         openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0, timeout=20))
    return _CLIENTS[key]


def _send(mesh: RunningMesh, api: str, route: str, kwargs: dict[str, Any]) -> Any:
    """The SDK call; returns the raw response (its headers say whether the cache answered)."""
    if api == "anthropic":
        return _client(mesh, "anthropic").messages.with_raw_response.create(model=route, max_tokens=64, **kwargs)
    client = _client(mesh, "openai")
    if api == "responses":
        return client.responses.with_raw_response.create(model=route, max_output_tokens=64, **kwargs)
    return client.chat.completions.with_raw_response.create(model=route, **kwargs)


def _received(fake: Any, since: int) -> list[bytes]:
    """Everything the fake received after its ``since``-th request: raw body, the body as parsed
    JSON written back out (so an escaped form is caught too), and the headers."""
    out = []
    for record in list(fake.requests)[since:]:
        raw = getattr(record, "body", b"") or b""
        out += [raw, json.dumps(record.json, ensure_ascii=False).encode(), json.dumps(record.headers).encode()]
    return out


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize(("api", "field"), IDS, ids=[f"{a}.{f}" for a, f in IDS])
def test_redacted_in_every_field(stack, api, field, upstream):
    mesh, fakes = stack
    fake = fakes[upstream]
    before = len(fake.requests)
    if (api, field, upstream) in UNSUPPORTED:
        with pytest.raises(openai.BadRequestError) as info:
            _send(mesh, api, f"redact-{upstream}", CASES[api][field])
        assert len(fake.requests) == before and V not in info.value.response.text
        _assert_in_no_file(mesh)
        return
    answer = _send(mesh, api, f"redact-{upstream}", CASES[api][field])
    received = _received(fake, before)
    # the exact cache answers a request whose upstream form an earlier case already sent
    assert received or answer.headers.get("x-mesh-cache") == "hit", "the request did not reach the upstream"
    assert not [body for body in received if V.encode() in body], received
    _assert_in_no_file(mesh)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("api", sorted(STREAMED))
def test_redacted_when_streamed(stack, api, upstream):
    mesh, fakes = stack
    fake = fakes[upstream]
    before = len(fake.requests)
    answer = _send(mesh, api, f"redact-{upstream}", {**STREAMED[api], "stream": True})
    assert len(list(answer.parse())) > 1
    received = _received(fake, before)
    assert received and not [body for body in received if V.encode() in body], received
    request_id, deadline = answer.headers["x-mesh-request-id"], time.monotonic() + 60  # a hang guard, not a speed claim
    while mesh.runtime.stores.request_log.get(request_id) is None:  # a stream is logged once it ended
        assert time.monotonic() < deadline, "the streamed request was never logged"
        mesh.flush_logs()
        time.sleep(0.01)
    _assert_in_no_file(mesh)


@pytest.mark.parametrize(("api", "field"), IDS, ids=[f"{a}.{f}" for a, f in IDS])
def test_blocked_in_every_field(stack, api, field):
    """The screen stage blocks before routing: one upstream is enough to show nothing is sent."""
    mesh, fakes = stack
    upstream = "anthropic"
    fake = fakes[upstream]
    before = len(fake.requests)
    if (api, field) in DROPPED:
        _send(mesh, api, f"block-{upstream}", CASES[api][field])
        assert not [body for body in _received(fake, before) if V.encode() in body]
        _assert_in_no_file(mesh)
        return
    error_type = anthropic.BadRequestError if api == "anthropic" else openai.BadRequestError
    with pytest.raises(error_type) as info:
        _send(mesh, api, f"block-{upstream}", CASES[api][field])
    body = info.value.body
    assert V not in info.value.response.text
    if api == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error", body
    else:
        assert info.value.code == "pii_blocked", body
    assert len(fake.requests) == before, "a blocked request reached the upstream"
    _assert_in_no_file(mesh)


def _assert_in_no_file(mesh: RunningMesh) -> None:
    """The value is in no file the mesh wrote (logs, ledger, audit and caches flushed first)."""
    mesh.flush_logs()
    for hook in mesh.runtime.service.hooks:
        flush = getattr(hook, "flush", None)
        if flush is not None:
            flush()
    holding = [p.name for p in mesh.data_dir.rglob("*") if V.encode() in _contents(p)]
    assert not holding, f"the raw value is in {holding}"


def _contents(path: Path) -> bytes:
    """A file's bytes; empty for a directory or a file gone since it was listed (a background
    writer retires a journal segment once its records are in the database, read here too)."""
    try:
        return path.read_bytes() if path.is_file() else b""
    except FileNotFoundError:
        return b""
