"""Body ``metadata`` becomes request tags, which the request log, the ledger and the audit trail
store. Under a redacting policy the stored tags hold the placeholder, never the raw value: the
raw email is in no file the mesh wrote, through the openai SDK over loopback."""

from __future__ import annotations

import openai

from tests.harness import serve_mesh

EMAIL = "grace.hopper@navy-compiler.example"


def test_metadata_tags_are_stored_redacted() -> None:
    config = {
        "providers": {"echo": {"kind": "echo"}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
        "policies": {"pii": {"actions": {"EMAIL": "redact"}}},
        "governance": {"bindings": {"default": "pii"}, "audit": {"enabled": True}},
        "costs": {"prices": {"echo": {"echo-1": {"input": "0.50", "output": "1.50"}}}},
    }
    with serve_mesh(config) as mesh:
        client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
        answer = client.chat.completions.with_raw_response.create(
            model="echo", messages=[{"role": "user", "content": "hello"}],
            metadata={"requester": EMAIL, "purpose": "demo"}, store=True)
        request_id = answer.headers["x-mesh-request-id"]
        mesh.flush_logs()
        logged = mesh.runtime.stores.request_log.get(request_id)
        assert logged is not None and logged.tags.get("purpose") == "demo"
        assert EMAIL not in str(logged.tags) and "EMAIL" in logged.tags.get("requester", ""), logged.tags
        for hook in mesh.runtime.service.hooks:
            flush = getattr(hook, "flush", None)
            if flush is not None:
                flush()
        written = b"".join(path.read_bytes() for path in mesh.data_dir.rglob("*") if path.is_file())
        assert EMAIL.encode() not in written
