"""Third-party clients, unchanged, against a running mesh over loopback.

One mesh per test module: the echo double (answers with the chat body the mesh sent upstream,
so a test can see what the client's request became) and the fake OpenAI upstream (answers a
request that carries tools with a call to its first tool, and in text once a tool result is in).
Each client library gets its own app key, so the mesh's request log tells which endpoint that
client really called (``/v1/responses`` is logged as endpoint ``responses``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.fakes.openai_upstream import FakeOpenAI, start_fake_openai
from tests.harness import RunningMesh, serve_mesh

# litellm fetches its model price map from the internet at import unless told to use its bundled copy
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

CLIENT_APPS = ("langchain", "langchain-structured", "instructor", "litellm", "node")


def mesh_config(fake_base_url: str) -> dict:
    return {
        "providers": {"echo": {"kind": "echo"},
                      "fake": {"kind": "openai", "base_url": fake_base_url, "api_key": {"env": "FAKE_KEY"}}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"},
                   "gpt": {"provider": "fake", "model": "gpt-4o-mini"},
                   # a route named like an OpenAI model: litellm streams natively only for models in its map
                   "gpt-4o": {"provider": "fake", "model": "gpt-4o"}},
        "apps": {"test": {"routes": "*", "admin": True}, **{app: {"routes": "*"} for app in CLIENT_APPS}},
    }


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with start_fake_openai() as running:
        yield running


@pytest.fixture(scope="module")
def mesh(fake: FakeOpenAI) -> Iterator[RunningMesh]:
    with serve_mesh(mesh_config(fake.base_url), env={"FAKE_KEY": "k"}) as running:
        yield running


def last_upstream_messages(fake: FakeOpenAI) -> list[dict]:
    """The chat messages of the last request the fake OpenAI upstream received."""
    return [r for r in fake.requests if r.path.endswith("/chat/completions")][-1].json["messages"]


def logged_calls(mesh: RunningMesh, app: str, at_least: int) -> list[tuple[str, str, bool, int]]:
    """(endpoint, route, stream, status) of ``app``'s requests, oldest first, once at least
    ``at_least`` are in the request log (polled: the log is written after the response)."""
    deadline = time.monotonic() + 5
    while True:
        mesh.flush_logs()
        entries = mesh.runtime.stores.request_log.recent(limit=200, app=app)
        if len(entries) >= at_least or time.monotonic() > deadline:
            return [(e.endpoint, e.route, e.stream, e.status) for e in reversed(entries)]
        time.sleep(0.02)
