"""Schemathesis against the mesh's own OpenAPI document (app.openapi()), over real HTTP.

Every generated request (valid and invalid bodies, path parameters, headers) must get no 5xx, and
every 4xx must carry the OpenAI error shape (the Anthropic one on /v1/messages). Half of the
generated chat/embeddings bodies get a real route name so validation goes past the route lookup.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode

from llm_mesh.http.app import create_app
from tests.harness import serve_mesh
from tests.hostile.common import assert_error_shape, budget

CONFIG = {
    "server": {"max_body_bytes": 65536},
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}, "emb": {"provider": "echo", "model": "echo-embed"}},
}


@pytest.fixture(scope="module")
def mesh():
    with serve_mesh(CONFIG) as running:
        yield running


def _spec(mesh) -> dict:
    return create_app(mesh.runtime).openapi()


def _operations(spec: dict) -> list:
    loaded = schemathesis.openapi.from_dict(spec)
    return [result.ok() for result in loaded.get_all_operations()]


def test_chat_and_embeddings_declare_their_bodies(mesh):
    paths = _spec(mesh)["paths"]
    for path in ("/v1/chat/completions", "/v1/embeddings"):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert "model" in body["properties"]


def _check(case, mesh) -> None:
    if isinstance(case.body, dict) and "model" in case.body and len(json.dumps(case.body, default=str)) % 2 == 0:
        case.body["model"] = "emb" if case.path == "/v1/embeddings" else "echo"
    headers = {"Authorization": f"Bearer {mesh.api_key}", "x-api-key": mesh.api_key}
    response = case.call(base_url=mesh.root_url, headers=headers, timeout=15)
    try:
        body = response.json()
    except ValueError:
        body = None
    assert_error_shape(case.path, response.status_code, body, response.text)


# Operations are listed from a throwaway spec at collection time only for the test ids; the
# strategies themselves come from the running mesh's own document.
_LABELS = ["GET /health", "GET /v1/models", "GET /v1/models/{model_id}", "POST /v1/chat/completions",
           "POST /v1/embeddings", "POST /v1/messages", "GET /v1/mesh/models"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_5xx_and_error_shape(mesh, mode):
    operations = _operations(_spec(mesh))
    assert {op.label for op in operations} >= set(_LABELS), sorted(op.label for op in operations)
    strategy = st.one_of(*(op.as_strategy(generation_mode=mode) for op in operations))

    @budget(full=300, short=30)
    @given(case=strategy)
    def run(case) -> None:
        _check(case, mesh)

    run()
