"""Responses API conversation state through the official openai SDK over loopback HTTP:
``store`` + ``previous_response_id`` (the echo double shows what went upstream), retrieve,
input_items.list, delete, another app's ids, ``store: false``, bad ids, and a redacted value
that stays redacted at rest (the raw value is in no file the mesh wrote)."""

from __future__ import annotations

import json
import sqlite3

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

EMAIL = "ada.lovelace@analytical-engine.example"


TOOL = {"type": "function", "name": "get_order", "description": "Look an order up by its number.",
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]}}


@pytest.fixture(scope="module")
def fake():
    with start_fake_openai() as upstream:
        yield upstream


@pytest.fixture(scope="module")
def mesh(fake):
    config = {
        "providers": {"echo": {"kind": "echo"},
                      "fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}}},
        "routes": {"echo": {"provider": "echo", "model": "echo-1"},
                   "private": {"provider": "echo", "model": "echo-1"},
                   "masked": {"provider": "echo", "model": "echo-1"},
                   "gpt": {"provider": "fake", "model": "gpt-4o-mini"}},
        "policies": {"pii": {"actions": {"EMAIL": "redact"}, "restore_output": True},
                     "mask": {"actions": {"EMAIL": "mask"}}},
        "governance": {"bindings": {"routes": {"private": "pii", "masked": "mask"}}},
        "apps": {"test": {"routes": "*"}, "other": {"routes": "*"}},
    }
    with serve_mesh(config, env={"FAKE_KEY": "k"}) as running:
        yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


@pytest.fixture(scope="module")
def other(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("other"), max_retries=0)


def _sent(response) -> list[dict]:
    return json.loads(response.output_text)["messages"]  # the echo double answers with what went upstream


def test_previous_response_id_carries_input_and_output_but_not_instructions(client):
    first = client.responses.create(model="echo", input="my name is Ada", instructions="be brief")
    second = client.responses.create(model="echo", input="what is my name?", previous_response_id=first.id,
                                     instructions="answer in French")
    assert second.previous_response_id == first.id
    assert _sent(second) == [
        {"role": "system", "content": "answer in French"},
        {"role": "user", "content": [{"type": "text", "text": "my name is Ada"}]},
        {"role": "assistant", "content": first.output_text},
        {"role": "user", "content": "what is my name?"},
    ]
    third = client.responses.create(model="echo", previous_response_id=second.id, input=[
        {"role": "user", "content": [{"type": "input_text", "text": "and again?"}]}])
    roles = [m["role"] for m in _sent(third)]
    assert roles == ["user", "assistant", "user", "assistant", "user"]  # no system: instructions are not carried
    assert _sent(third)[3]["content"] == second.output_text


def test_retrieve_returns_the_stored_response(client):
    created = client.responses.create(model="echo", input="keep me", metadata={"ticket": "42"})
    got = client.responses.retrieve(created.id)
    assert got.id == created.id and got.object == "response" and got.status == "completed"
    assert got.output_text == created.output_text and got.metadata == {"ticket": "42"}
    assert got.usage.total_tokens == created.usage.total_tokens


def test_input_items_list_orders_and_pages(client):
    first = client.responses.create(model="echo", input="one")
    second = client.responses.create(model="echo", input="two", previous_response_id=first.id)
    newest_first = client.responses.input_items.list(second.id)
    assert [item.type for item in newest_first.data] == ["message", "message", "message"]
    assert [item.role for item in newest_first.data] == ["user", "assistant", "user"]
    assert newest_first.data[0].content[0].text == "two" and newest_first.has_more is False
    assert newest_first.data[1].id == first.output[0].id  # the previous output item keeps its id
    page = client.responses.input_items.list(second.id, order="asc", limit=2)
    assert [item.id for item in page.data] == [item.id for item in reversed(newest_first.data)][:2]
    assert page.has_more is True
    everything = list(client.responses.input_items.list(second.id, order="asc", limit=1))  # the SDK pages by `after`
    assert [item.id for item in everything] == [item.id for item in reversed(newest_first.data)]
    raw = client.responses.input_items.with_raw_response.list(second.id, order="asc", limit=2).http_response.json()
    assert raw["object"] == "list" and raw["first_id"] == raw["data"][0]["id"] and raw["last_id"] == raw["data"][1]["id"]


def test_delete_then_the_id_is_gone(client):
    created = client.responses.create(model="echo", input="forget me")
    raw = client.responses.with_raw_response.delete(created.id)
    assert raw.http_response.json() == {"id": created.id, "object": "response", "deleted": True}
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.retrieve(created.id)
    assert info.value.body["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as info:
        client.responses.create(model="echo", input="hi", previous_response_id=created.id)
    assert info.value.param == "previous_response_id"
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def test_another_apps_response_is_a_404(client, other):
    mine = client.responses.create(model="echo", input="private to test")
    for call in (lambda: other.responses.retrieve(mine.id), lambda: other.responses.input_items.list(mine.id),
                 lambda: other.responses.delete(mine.id),
                 lambda: other.responses.create(model="echo", input="hi", previous_response_id=mine.id)):
        with pytest.raises(openai.NotFoundError) as info:
            call()
        assert info.value.status_code == 404 and info.value.body["code"] == "not_found"
        assert "private to test" not in json.dumps(info.value.body)
    assert client.responses.retrieve(mine.id).id == mine.id  # still there for its own app


def test_store_false_is_not_retrievable(client):
    created = client.responses.create(model="echo", input="do not keep", store=False)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)


def test_bad_ids_and_page_params_are_400s(client):
    created = client.responses.create(model="echo", input="x")
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.retrieve("not-a-response-id")
    assert info.value.param == "response_id"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="echo", input="hi", previous_response_id="msg_123")
    assert info.value.param == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.input_items.list(created.id, limit=0)
    assert info.value.param == "limit"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.input_items.list(created.id, after="msg_nope")
    assert info.value.param == "after"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve("resp_0123456789abcdef0123456789abcdef")
    for extra, param in (({"previous_response_id": 42}, "previous_response_id"), ({"store": "yes"}, "store")):
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model="echo", input="hi", extra_body=extra)
        assert info.value.param == param


def test_streamed_response_is_stored_and_continues(client):
    with client.responses.stream(model="echo", input="stream me") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert client.responses.retrieve(final.id).output_text == final.output_text
    nxt = client.responses.create(model="echo", input="next", previous_response_id=final.id, stream=True)
    done = [e for e in nxt if e.type == "response.completed"][0].response
    assert [m["role"] for m in _sent(done)] == ["user", "assistant", "user"]


def test_a_redacted_value_stays_redacted_at_rest(mesh, client):
    tool = {**TOOL, "description": f"Orders of {EMAIL}."}
    first = client.responses.create(model="private", input=f"my email is {EMAIL}", instructions=f"mail {EMAIL} only",
                                    user=EMAIL, tools=[tool], tool_choice="none")
    assert EMAIL in first.output_text  # the client got its value back (restore_output)
    mesh.flush_logs()
    written = [p for p in mesh.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("mesh.db") for p in written)
    leaking = [p.name for p in written if EMAIL.encode() in p.read_bytes()]
    assert leaking == []
    second = client.responses.create(model="private", input="what was it?", previous_response_id=first.id)
    sent_text = json.dumps(_sent(second))
    assert EMAIL not in sent_text and "[EMAIL_1]" in sent_text  # the history went upstream redacted (a placeholder literal not this request's)
    stored = client.responses.retrieve(first.id)
    assert EMAIL not in stored.model_dump_json() and "[EMAIL_1]" in stored.output_text
    assert stored.instructions == "mail [EMAIL_1] only"  # as it went upstream
    assert stored.user == "[EMAIL_1]"
    assert stored.tools[0].name == "get_order" and stored.tools[0].description == "Orders of [EMAIL_1]."
    items = client.responses.input_items.list(first.id)
    assert EMAIL not in items.model_dump_json() and "[EMAIL_1]" in items.data[0].content[0].text


def test_a_function_call_continues_by_previous_response_id(client, fake):
    first = client.responses.create(model="gpt", input="where is order 42?", tools=[TOOL])
    [call] = [item for item in first.output if item.type == "function_call"]
    second = client.responses.create(model="gpt", tools=[TOOL], previous_response_id=first.id, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "shipped yesterday"}])
    assert second.status == "completed" and second.output_text
    sent = fake.requests[-1].json["messages"]  # what the mesh sent the upstream
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert sent[1]["tool_calls"][0]["id"] == call.call_id and sent[1]["tool_calls"][0]["function"]["name"] == "get_order"
    assert sent[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "shipped yesterday"}
    items = client.responses.input_items.list(second.id, order="asc").data
    assert [item.type for item in items] == ["message", "function_call", "function_call_output"]
    assert items[1].id == call.id and items[1].call_id == call.call_id and items[2].output == "shipped yesterday"


def test_metadata_is_stored_as_it_went_upstream(mesh, client):
    # Not part of the whole-file check above: the request log keeps metadata as request tags, unscreened
    # (llm_mesh.gateway.service, outside the Responses state); the stored response itself is checked here.
    other_email = "grace.hopper@navy-mail.example"  # not EMAIL: the whole-file check may run after this test
    created = client.responses.create(model="private", input="hello", metadata={"contact": other_email})
    assert client.responses.retrieve(created.id).metadata == {"contact": "[EMAIL_1]"}
    db = sqlite3.connect(mesh.data_dir / "mesh.db")
    try:
        rows = db.execute("SELECT response, input_items FROM stored_responses WHERE response_id = ?", (created.id,)).fetchall()
    finally:
        db.close()
    assert len(rows) == 1 and other_email not in rows[0][0] + rows[0][1]


def test_masked_and_streamed_values_stay_masked_and_redacted_at_rest(mesh, client):
    email = "linus.t@kernel-mail.example"  # a value of this test alone (the whole-file check below)
    masked = client.responses.create(model="masked", input=f"write to {email}")
    assert email not in masked.output_text  # mask is one-way: the echo saw the masked value
    nxt = client.responses.create(model="masked", input="and?", previous_response_id=masked.id)
    assert email not in nxt.output_text
    with client.responses.stream(model="private", input=f"stream {email}") as stream:
        for _ in stream:
            pass
        streamed = stream.get_final_response()
    assert email in streamed.output_text  # restored for the client, mid-stream
    assert email not in client.responses.retrieve(streamed.id).output_text
    mesh.flush_logs()
    assert [p.name for p in mesh.data_dir.rglob("*") if p.is_file() and email.encode() in p.read_bytes()] == []


class _RefusingStore:
    """A response store whose writes fail (a full disk, a throttled table)."""

    def put(self, *args):
        raise OSError("disk full")

    def get(self, *args):
        return None

    def input_items(self, *args):
        return None

    def delete(self, *args):
        return False


def test_a_failing_store_never_takes_the_answer_away(tmp_path):
    from llm_mesh.stores.sqlite import open_sqlite_stores

    stores = open_sqlite_stores(tmp_path / "mesh.db")
    stores.responses = _RefusingStore()
    config = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}}}
    try:
        with serve_mesh(config, stores=stores) as running:
            client = openai.OpenAI(base_url=running.base_url, api_key=running.api_key, max_retries=0)
            raw = client.responses.with_raw_response.create(model="echo", input="hi")
            assert raw.http_response.status_code == 200 and raw.headers["x-mesh-response-stored"] == "false"
            assert _sent(raw.parse())[-1]["content"] == "hi"
            with client.responses.stream(model="echo", input="streamed") as stream:
                kinds = [event.type for event in stream]
            assert kinds[-1] == "response.completed"
    finally:
        stores.close()


def test_openai_agents_runner_continues_by_previous_response_id(mesh):
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # the SDK would export traces to api.openai.com
    client = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    model = agents.OpenAIResponsesModel(model="echo", openai_client=client)
    agent = agents.Agent(name="echoer", instructions="Repeat.", model=model)
    first = agents.Runner.run_sync(agent, "my order is 42")
    second = agents.Runner.run_sync(agent, "which order?", previous_response_id=first.last_response_id)
    sent = json.loads(second.final_output)["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[1]["content"][0]["text"] == "my order is 42" and sent[-1]["content"] == "which order?"
