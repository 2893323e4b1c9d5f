"""Every request is recorded exactly once, by the service, whatever path it took.

Success, a stream, an error from the service, a malformed body and a failed
authentication each leave one request-log entry (and priced ones one ledger row):
no caller has to remember to record, and no path records twice.
"""

from __future__ import annotations

import collections
import time

import httpx
import openai
import pytest

from tests.harness import serve_mesh

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "models": {"echo-priced": {"provider": "echo", "model": "echo-1", "prices": {"input": "1.00", "output": "2.00"}}},
    "routes": {"chat": {"provider": "echo", "model": "echo-1"}},
    "costs": {"ledger": True},
    "apps": {"test": {"routes": "*", "admin": True}},
}


@pytest.fixture(scope="module")
def mesh():
    with serve_mesh(CONFIG) as running:
        yield running


def test_each_request_leaves_exactly_one_log_entry(mesh):
    client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    ids = {}
    raw = client.chat.completions.with_raw_response.create(model="chat", messages=[{"role": "user", "content": "hi"}])
    ids["ok"] = raw.headers["x-mesh-request-id"]
    with client.chat.completions.with_streaming_response.create(
            model="chat", messages=[{"role": "user", "content": "hi"}], stream=True) as streamed:
        ids["stream"] = streamed.headers["x-mesh-request-id"]
        list(streamed.iter_lines())
    headers = {"authorization": f"Bearer {mesh.api_key}"}
    unknown = httpx.post(f"{mesh.base_url}/chat/completions", headers=headers,
                         json={"model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    malformed = httpx.post(f"{mesh.base_url}/chat/completions", headers=headers, content=b"{not json")
    unauthenticated = httpx.post(f"{mesh.base_url}/chat/completions", headers={"authorization": "Bearer wrong"},
                                 json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
    assert (unknown.status_code, malformed.status_code, unauthenticated.status_code) == (404, 400, 401)
    for name, response in (("unknown", unknown), ("malformed", malformed), ("unauthenticated", unauthenticated)):
        ids[name] = response.headers["x-mesh-request-id"]
    mesh.flush_logs()
    seen = collections.Counter(entry.request_id for entry in mesh.runtime.stores.request_log.recent(1000, None))
    assert {name: seen[request_id] for name, request_id in ids.items()} == {name: 1 for name in ids}
    ledger = collections.Counter(r.request_id for r in mesh.runtime.stores.ledger.records(time.time() - 3600, time.time() + 3600, app="test"))
    assert ledger[ids["ok"]] == 1 and ledger[ids["stream"]] == 1
