"""A large prompt is screened off the event loop: the gateway keeps answering meanwhile.

The engine of the running mesh is held inside its scan (it waits on an event the test
sets), so the large request stays in the screen stage for as long as the test wants.
While it is there, ``/health`` and a small chat request still answer: the loop is free.
"""

from __future__ import annotations

import threading

import httpx
import pytest

from llm_mesh.policy.hook import OFFLOAD_CHARS, PolicyHook
from tests.harness import serve_mesh

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"chat": {"provider": "echo", "model": "echo-1"}},
    "policies": {"pii": {"actions": {"EMAIL": "redact"}}},
    "governance": {"bindings": {"default": "pii"}},
    "apps": {"test": {"routes": "*", "admin": True}},
}


@pytest.fixture()
def mesh():
    with serve_mesh(CONFIG) as running:
        yield running


def test_health_and_small_requests_answer_while_a_large_prompt_is_screened(mesh):
    hook = next(h for h in mesh.runtime.service.hooks if isinstance(h, PolicyHook))
    engine = hook.engines["pii"]
    entered, release = threading.Event(), threading.Event()
    original = engine.apply_to_texts

    def held(texts, vault, **kwargs):
        if sum(map(len, texts)) > OFFLOAD_CHARS:
            entered.set()
            assert release.wait(30), "the test never released the scan"
        return original(texts, vault, **kwargs)

    engine.apply_to_texts = held  # type: ignore[method-assign]
    headers = {"authorization": f"Bearer {mesh.api_key}"}
    big = "write to jane.doe@example.com about the order. " * (OFFLOAD_CHARS // 40)
    result: dict = {}

    def send_big() -> None:
        result["response"] = httpx.post(f"{mesh.base_url}/chat/completions", headers=headers, timeout=60,
                                        json={"model": "chat", "messages": [{"role": "user", "content": big}]})

    sender = threading.Thread(target=send_big)
    sender.start()
    try:
        assert entered.wait(30), "the large request never reached the screen stage"
        # The large request is inside its scan right now; the loop must still serve others.
        assert httpx.get(f"{mesh.root_url}/health", timeout=10).status_code == 200
        small = httpx.post(f"{mesh.base_url}/chat/completions", headers=headers, timeout=10,
                           json={"model": "chat", "messages": [{"role": "user", "content": "mail bo@example.org"}]})
        assert small.status_code == 200
    finally:
        release.set()
        sender.join(60)
    response = result["response"]
    assert response.status_code == 200 and response.headers["x-mesh-policy"].startswith("EMAIL=")
