"""The prompt catalogue end to end through the openai SDK: references by label, promotion,
variables, experiments with sticky assignment, feedback and the report."""

from __future__ import annotations

import json
import os

import httpx
import openai
import pytest

from tests.harness import serve_mesh

V1 = """
description: support answer, formal
route: chat
parameters: {temperature: 0.1}
variables: {tone: {default: formal}}
messages:
  - {role: system, content: "You support {{product}}. Be {{tone}}. (v1)"}
"""
V2 = """
description: support answer, friendly
route: chat
variables: {tone: {default: friendly}}
messages:
  - {role: system, content: "You support {{product}}. Be {{ tone }}! (v2)"}
"""

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"chat": {"provider": "echo", "model": "echo-1"}},
    "prompts": {"labels": {"support": {"production": 1, "staging": 2}, "greeting": {"production": 1}}},
    "experiments": {
        "tone": {"prompt": "greeting", "label": "production", "variants": {"a": {"version": 1}, "b": {"version": 2}}}
    },
    "apps": {"app": {"routes": ["chat"]}},
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompts")
    for name in ("support", "greeting"):
        (root / name).mkdir()
        (root / name / "v1.yaml").write_text(V1)
        (root / name / "v2.yaml").write_text(V2)
    previous = os.environ.get("MESH_PROMPTS_DIR")
    os.environ["MESH_PROMPTS_DIR"] = str(root)
    try:
        with serve_mesh(CONFIG) as running:
            yield running
    finally:
        if previous is None:
            os.environ.pop("MESH_PROMPTS_DIR", None)
        else:
            os.environ["MESH_PROMPTS_DIR"] = previous


def _client(mesh, app="app"):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for(app), max_retries=0)


def _admin(mesh, method, path, **kwargs):
    return httpx.request(method, f"{mesh.base_url}/mesh{path}", headers={"authorization": f"Bearer {mesh.api_key}"}, **kwargs)


def _ask(mesh, model, user=None, **variables):
    raw = _client(mesh).chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hello"}], extra_body={"variables": variables}, user=user or "u")
    sent = json.loads(raw.parse().choices[0].message.content)
    return raw, sent


def test_prompt_by_label_serves_the_new_version_after_promotion(mesh):
    raw, sent = _ask(mesh, "prompt:support@production", product="Widget")
    assert sent["messages"][0] == {"role": "system", "content": "You support Widget. Be formal. (v1)"}
    assert sent["messages"][1]["content"] == "hello" and sent["temperature"] == 0.1
    assert "variables" not in sent and sent["model"] == "echo-1"
    assert raw.headers["x-mesh-prompt"] == "support@v1" and raw.headers["x-mesh-route"] == "chat"
    moved = _admin(mesh, "POST", "/prompts/support/labels/production", json={"version": 2})
    assert moved.status_code == 200 and moved.json()["version"] == 2
    raw, sent = _ask(mesh, "prompt:support@production", product="Widget")  # the app changed nothing
    assert sent["messages"][0]["content"] == "You support Widget. Be friendly! (v2)"
    assert raw.headers["x-mesh-prompt"] == "support@v2"
    back = _admin(mesh, "POST", "/prompts/support/labels/production/rollback")
    assert back.json()["version"] == 1
    assert _ask(mesh, "prompt:support", product="W")[1]["messages"][0]["content"].endswith("(v1)")  # default label
    assert _ask(mesh, "prompt:support@2", product="W")[1]["messages"][0]["content"].endswith("(v2)")
    assert _ask(mesh, "prompt:support@staging", product="W")[1]["messages"][0]["content"].endswith("(v2)")


def test_missing_variable_is_a_clear_400(mesh):
    with pytest.raises(openai.BadRequestError) as info:
        _ask(mesh, "prompt:support")
    assert "'product'" in info.value.message and info.value.code == "missing_variable"
    with pytest.raises(openai.NotFoundError):
        _ask(mesh, "prompt:nope", product="x")


def test_admin_api_lists_shows_diffs_and_publishes(mesh):
    listing = _admin(mesh, "GET", "/prompts").json()["data"]
    assert {p["name"] for p in listing} == {"support", "greeting"}
    diff = _admin(mesh, "GET", "/prompts/support/diff", params={"from": 1, "to": 2}).json()["diff"]
    assert "-  content: 'You support {{product}}. Be {{tone}}. (v1)'" in diff or "(v1)" in diff
    created = _admin(mesh, "POST", "/prompts/support/versions", json={"route": "chat", "messages": [{"role": "system", "content": "v3 {{product}}"}]})
    assert created.status_code == 200 and created.json()["version"] == 3
    shown = _admin(mesh, "GET", "/prompts/support").json()
    assert shown["versions"] == [1, 2, 3] and shown["labels"]["production"] == 1
    denied = httpx.get(f"{mesh.base_url}/mesh/prompts", headers={"authorization": f"Bearer {mesh.key_for('app')}"})
    assert denied.status_code == 403


def test_experiment_assigns_sticky_records_feedback_reports_and_promotes(mesh):
    seen: dict[str, set[str]] = {}
    for n in range(40):
        user = f"user-{n % 20}"
        raw, _ = _ask(mesh, "prompt:greeting", user=user, product="P")
        variant = raw.headers["x-mesh-experiment"].split("/")[1]
        seen.setdefault(user, set()).add(variant)
        score = 1 if variant == "b" else -1  # users like b
        feedback = httpx.post(f"{mesh.base_url}/mesh/feedback", json={"request_id": raw.headers["x-mesh-request-id"], "score": score},
                              headers={"authorization": f"Bearer {mesh.key_for('app')}"})
        assert feedback.status_code == 200, feedback.text
    assert all(len(v) == 1 for v in seen.values())  # sticky per user
    assert {next(iter(v)) for v in seen.values()} == {"a", "b"}
    report = _admin(mesh, "GET", "/experiments/tone").json()
    variants = {v["variant"]: v for v in report["variants"]}
    assert set(variants) == {"a", "b"}
    for v in variants.values():
        assert v["requests"] > 0 and v["latency_ms"]["mean"] > 0 and v["feedback"]["count"] == v["requests"]
    assert variants["b"]["feedback"]["mean"] == 1 and variants["a"]["feedback"]["mean"] == -1
    assert report["tests"]["b_vs_a"]["positive_feedback_z"]["p"] < 0.05
    assert report["winner"] == "b"
    promoted = _admin(mesh, "POST", "/experiments/tone/promote")
    assert promoted.json()["promoted"] == "b" and promoted.json()["version"] == 2
    raw, sent = _ask(mesh, "prompt:greeting", user="user-0", product="P")
    assert "x-mesh-experiment" not in raw.headers and sent["messages"][0]["content"].endswith("(v2)")
    unknown = httpx.post(f"{mesh.base_url}/mesh/feedback", json={"request_id": "req_nope", "score": 1},
                         headers={"authorization": f"Bearer {mesh.key_for('app')}"})
    assert unknown.status_code == 404
