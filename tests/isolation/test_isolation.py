"""Tenant isolation and secrets: app B never sees app A's routes, costs, cache entries or audit
records; nothing logs the provider key, a mesh key or the raw PII of a request; no client-supplied
field or header moves a request to another upstream.

Surfaces that do not exist in this build are skipped with the reason (bench/prove.py lists them);
governance sections (policies, cache, budgets...) are switched on the way bench/load.py does.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from bench.load import optional_sections
from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

SECRET = "sk-iso-upstream-0c4f7a9e13b2"
EMAIL = "maria.keller@example.org"
CARD = "4111 1111 1111 1111"
PROMPT = f"Please answer {EMAIL} about card {CARD}"


@pytest.fixture(scope="module")
def upstreams():
    with start_fake_openai() as good, start_fake_openai() as evil:
        yield good, evil


@pytest.fixture(scope="module")
def mesh(upstreams):
    good, _ = upstreams
    raw = {
        "providers": {"up": {"kind": "openai", "base_url": good.base_url, "api_key": {"env": "ISO_UPSTREAM_KEY"}}},
        "routes": {"r-a": {"provider": "up", "model": "gpt-4o"}, "r-b": {"provider": "up", "model": "gpt-4o-mini"}},
        "apps": {"iso-a": {"routes": ["r-a"]}, "iso-b": {"routes": ["r-b"]}, "test": {"routes": "*", "admin": True}},
    }
    raw, _, _ = optional_sections(raw)
    with serve_mesh(raw, env={"ISO_UPSTREAM_KEY": SECRET, "MESH_PII_SALT": "iso"}) as running:
        yield running


@pytest.fixture(scope="module")
def logs():
    """Every log record of the module (the server runs in-process), at DEBUG."""
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                records.append(self.format(record))
            except Exception:  # noqa: BLE001
                records.append(str(record.msg))

    handler = Keep(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield records
    root.removeHandler(handler)
    root.setLevel(old)


def client(mesh, app: str) -> httpx.Client:
    key = mesh.key_for(app)
    return httpx.Client(base_url=mesh.root_url, headers={"Authorization": f"Bearer {key}"}, timeout=20)


def chat(c: httpx.Client, route: str, **extra) -> httpx.Response:
    body = {"model": route, "messages": [{"role": "user", "content": PROMPT}], "temperature": 0, **extra}
    return c.post("/v1/chat/completions", json=body)


def test_an_app_cannot_use_or_list_another_apps_routes(mesh, logs):
    with client(mesh, "iso-a") as a, client(mesh, "iso-b") as b:
        assert chat(a, "r-a").status_code == 200
        denied = chat(b, "r-a")
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
        assert [m["id"] for m in b.get("/v1/models").json()["data"]] == ["r-b"]
        assert b.get("/v1/models/r-a").status_code in (403, 404)


def test_management_endpoints_are_admin_only(mesh):
    with client(mesh, "iso-b") as b:
        for path in ("/v1/mesh/models", "/v1/mesh/audit"):
            response = b.get(path)
            if response.status_code == 404 and response.json()["error"].get("code") == "not_found":
                continue  # endpoint not in this build
            assert response.status_code == 403, (path, response.status_code, response.text[:200])


def test_costs_are_scoped_to_the_calling_app(mesh):
    with client(mesh, "iso-a") as a, client(mesh, "iso-b") as b:
        chat(a, "r-a")
        chat(b, "r-b")
        mesh.flush_logs()
        mine = b.get("/v1/mesh/costs")
        if mine.status_code == 404:
            pytest.skip(f"no cost ledger in this build: {mine.json()['error']['message']}")
        assert mine.status_code == 200, mine.text[:300]
        assert "iso-a" not in mine.text
        other = b.get("/v1/mesh/costs", params={"app": "iso-a"})
        assert other.status_code == 403


def test_cache_entries_never_cross_apps(mesh, upstreams):
    if not any(h.name.startswith("cost") or "cache" in h.name for h in mesh.runtime.service.hooks):
        pytest.skip("no cache hook in this build")
    good, _ = upstreams
    with client(mesh, "test") as admin, client(mesh, "iso-b") as b:
        mesh.runtime.config.apps  # both may use r-b through the admin app
        first = chat(admin, "r-b", seed=4242)
        again = chat(admin, "r-b", seed=4242)
        if (again.headers.get("x-mesh-cache") or "").lower() != "hit":
            pytest.skip(f"cache not on for this config (x-mesh-cache={again.headers.get('x-mesh-cache')!r})")
        before = len(good.requests)
        other = chat(b, "r-b", seed=4242)
        assert other.status_code == 200 and first.status_code == 200
        assert (other.headers.get("x-mesh-cache") or "miss").lower() != "hit"
        assert len(good.requests) == before + 1, "app B's identical request must reach the upstream"


def test_audit_records_are_not_readable_by_other_apps(mesh):
    audit = getattr(mesh.runtime.stores, "audit", None)
    if audit is None:
        pytest.skip("no audit store in this build")
    with client(mesh, "iso-b") as b:
        response = b.get("/v1/mesh/audit", params={"app": "iso-a"})
        assert response.status_code in (403, 404)
        assert "iso-a" not in response.text or response.status_code == 403 and "iso-a" not in response.json()["error"]["message"]


SSRF_FIELDS = ("base_url", "api_base", "baseURL", "endpoint", "url", "api_key", "extra_headers", "extra_body",
               "headers", "provider", "custom_llm_provider")


def test_no_client_controlled_upstream(mesh, upstreams):
    good, evil = upstreams
    good.reset()
    evil.reset()
    hostile_fields = {name: evil.base_url for name in SSRF_FIELDS}
    hostile_fields["extra_headers"] = {"Host": "evil.example", "Authorization": "Bearer sk-client"}
    hostile_fields["headers"] = {"x-evil": "1"}
    hostile_headers = {"Host": "evil.example", "X-Forwarded-Host": evil.base_url, "X-Forwarded-Proto": "http",
                       "x-mesh-upstream": evil.base_url, "x-evil": "1", "OpenAI-Organization": "org-evil"}
    with client(mesh, "iso-a") as a:
        for stream in (False, True):
            response = a.post("/v1/chat/completions", headers=hostile_headers,
                              json={"model": "r-a", "messages": [{"role": "user", "content": "hi"}], "stream": stream,
                                    **hostile_fields})
            assert response.status_code < 500, response.text[:300]
        emb = a.post("/v1/embeddings", headers=hostile_headers,
                     json={"model": "r-a", "input": "hi", **hostile_fields})
        assert emb.status_code < 500
    assert len(evil.requests) == 0, "a request reached an upstream the client chose"
    for recorded in good.requests:
        assert recorded.headers.get("authorization") == f"Bearer {SECRET}"
        assert "x-evil" not in recorded.headers and recorded.headers.get("openai-organization") != "org-evil"
        assert "evil.example" not in recorded.headers.get("host", "")


def test_logs_and_answers_never_carry_secrets_or_raw_pii(mesh, upstreams, logs):
    good, _ = upstreams
    good.reset()
    with client(mesh, "iso-a") as a:
        answers = [chat(a, "r-a"), chat(a, "r-a", stream=True), chat(a, "r-a;status=500"),
                   a.post("/v1/chat/completions", json={"model": "r-a", "messages": [{"role": "user", "content": PROMPT}],
                                                        "temperature": "hot"})]
    with httpx.Client(base_url=mesh.root_url, timeout=10) as anon:
        answers.append(anon.post("/v1/chat/completions", headers={"Authorization": f"Bearer {SECRET}"},
                                 json={"model": "r-a", "messages": [{"role": "user", "content": PROMPT}]}))
    mesh.flush_logs()
    text = "\n".join(logs)
    keys = list(mesh.keys.values())
    for needle in [SECRET, *keys, EMAIL, CARD]:
        assert needle not in text, f"{needle[:12]}... appears in the logs"
    for response in answers:
        assert SECRET not in response.text and SECRET not in str(response.headers)
    for entry in mesh.runtime.stores.request_log.recent(limit=200):
        dumped = repr(entry)
        assert EMAIL not in dumped and CARD not in dumped and SECRET not in dumped
