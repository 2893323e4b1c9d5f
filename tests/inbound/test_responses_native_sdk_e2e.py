"""Native Responses passthrough end to end: the official openai SDK's ``client.responses`` ->
the mesh (real HTTP) -> the fake OpenAI upstream's own ``POST /v1/responses``, for a target
whose provider says ``options.responses: native``. The policy screens what leaves (the fake
sees placeholders), the client gets the restored text (streamed and not), the ledger and the
request log bill the upstream's own ``input_tokens`` / ``output_tokens``, the mesh keeps the
conversation state (``store: false`` upstream), a failing native target falls over to the next
target's chat completions, and a provider without the flag still gets chat completions."""

from __future__ import annotations

import json
import time

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

EMAIL = "lena.fischer@contoso-mail.example"
OTHER = "ops-desk@contoso-mail.example"
TOOL = {"type": "function", "name": "get_order", "description": f"Look an order up; escalate to {OTHER}.",
        "parameters": {"type": "object", "properties": {"number": {"type": "string"}}, "required": ["number"]}}


@pytest.fixture(scope="module")
def mesh():
    with start_fake_openai() as fake:
        upstream = {"base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}}
        config = {
            "providers": {"native": {"kind": "openai", **upstream, "options": {"responses": "native"}},
                          "plain": {"kind": "openai", **upstream}},
            "routes": {"native": {"provider": "native", "model": "gpt-4o-mini"},
                       "plain": {"provider": "plain", "model": "gpt-4o-mini"},
                       "broken": {"provider": "native", "model": "gpt-4o-mini;malformed_json", "retry": {"attempts": 0}},
                       "failing": {"provider": "native", "model": "gpt-4o-mini;stream_error_after=6",
                                   "retry": {"attempts": 0}},
                       "fallback": {"strategy": "priority", "retry": {"attempts": 0}, "targets": [
                           {"provider": "native", "model": "gpt-4o-mini;status=503"},
                           {"provider": "plain", "model": "gpt-4o-mini"}]}},
            "policies": {"pii": {"actions": {"EMAIL": "redact"}, "restore_output": True}},
            "governance": {"bindings": {"default": "pii"}},
            "apps": {"test": {"routes": "*", "admin": True}, "broke": {"routes": ["native"]}},
            "costs": {"apps": {"test": {"team": "t", "project": "p"}},
                      "budgets": [{"name": "broke-hard", "scope": "app", "match": "broke", "limit_usd": "0.0000001",
                                   "mode": "hard"}]},
        }
        with serve_mesh(config, env={"FAKE_KEY": "k"}) as running:
            running.fake = fake
            yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def _sent(mesh, path="/v1/responses"):
    found = [r for r in mesh.fake.requests if r.path == path]
    assert found, f"the fake got no {path}"
    return found[-1].json


def _billed(mesh, request_id):
    """The request's ledger record and request-log entry, polled until both are written."""
    deadline = time.monotonic() + 5
    while True:
        mesh.flush_logs()
        records = mesh.runtime.stores.ledger.records(0, time.time() + 10)
        record = next((r for r in records if r.request_id == request_id), None)
        entry = mesh.runtime.stores.request_log.get(request_id)
        if (record is not None and entry is not None) or time.monotonic() > deadline:
            assert record is not None and entry is not None, f"{request_id} was not billed"
            return record, entry
        time.sleep(0.01)


def test_non_stream_goes_native_screened_restored_and_billed(mesh, client):
    mesh.fake.requests.clear()
    raw = client.responses.with_raw_response.create(
        model="native", instructions=f"The customer is {EMAIL}.", input=f"my email is {EMAIL}", max_output_tokens=40,
        reasoning={"summary": "auto"}, truncation="auto")
    response = raw.parse()
    assert [r.path for r in mesh.fake.requests] == ["/v1/responses"]
    sent = _sent(mesh)
    assert EMAIL not in json.dumps(sent) and "[EMAIL_1]" in sent["instructions"]
    assert sent["input"] == [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "my email is [EMAIL_1]"}]}]
    assert (sent["store"], sent["max_output_tokens"], sent["truncation"], sent["reasoning"]) == (False, 40, "auto", {"summary": "auto"})
    assert response.output_text == f"Echo: my email is {EMAIL}"  # the placeholder restored for the client
    upstream = mesh.fake.responses_usage
    assert (response.usage.input_tokens, response.usage.output_tokens) == (upstream["input_tokens"], upstream["output_tokens"])
    record, entry = _billed(mesh, raw.headers["x-mesh-request-id"])
    assert (record.provider, record.prompt_tokens, record.completion_tokens) == (
        "native", upstream["input_tokens"], upstream["output_tokens"])
    assert (entry.endpoint, entry.provider, entry.prompt_tokens, entry.completion_tokens) == (
        "responses", "native", upstream["input_tokens"], upstream["output_tokens"])


def test_stream_goes_native_and_the_deltas_are_restored(mesh, client):
    mesh.fake.requests.clear()
    with client.responses.with_streaming_response.create(
            model="native", input=f"write to {EMAIL} please", stream=True) as raw:
        request_id = raw.headers["x-mesh-request-id"]
        events = list(raw.parse())
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    final = next(event.response for event in events if event.type == "response.completed")
    sent = _sent(mesh)
    assert sent["stream"] is True and sent["store"] is False and EMAIL not in json.dumps(sent)
    assert "".join(deltas) == final.output_text == f"Echo: write to {EMAIL} please"
    upstream = mesh.fake.responses_usage
    assert (final.usage.input_tokens, final.usage.output_tokens) == (upstream["input_tokens"], upstream["output_tokens"])
    record, entry = _billed(mesh, request_id)
    assert (record.prompt_tokens, record.completion_tokens, entry.stream) == (
        upstream["input_tokens"], upstream["output_tokens"], True)


@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip_native(mesh, client, stream):
    mesh.fake.requests.clear()
    if stream:
        with client.responses.stream(model="native", input="where is order 42?", tools=[TOOL]) as events:
            kinds = [event.type for event in events]
            first = events.get_final_response()
        assert "response.function_call_arguments.delta" in kinds
    else:
        first = client.responses.create(model="native", input="where is order 42?", tools=[TOOL])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_order" and json.loads(call.arguments) == {"number": "where is order 42?"}
    sent = _sent(mesh)
    assert sent["tools"][0]["name"] == "get_order" and OTHER not in json.dumps(sent)  # tool descriptions screened
    second = client.responses.create(model="native", tools=[TOOL], input=[
        {"role": "user", "content": "where is order 42?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": f"shipped to {EMAIL}"},
    ])
    sent = _sent(mesh)
    output = next(item for item in sent["input"] if item["type"] == "function_call_output")
    assert output == {"type": "function_call_output", "call_id": call.call_id, "output": "shipped to [EMAIL_1]"}
    assert second.status == "completed" and second.output_text == "Echo: where is order 42?"
    assert all(r.path == "/v1/responses" for r in mesh.fake.requests)


def test_previous_response_id_is_expanded_by_the_mesh(mesh, client):
    first = client.responses.create(model="native", input="my name is Ada")
    mesh.fake.requests.clear()
    second = client.responses.create(model="native", input="what is my name?", previous_response_id=first.id)
    sent = _sent(mesh)
    assert "previous_response_id" not in sent and sent["store"] is False
    texts = [item.get("content") for item in sent["input"]]
    assert texts == [[{"type": "input_text", "text": "my name is Ada"}], "Echo: my name is Ada",
                     [{"type": "input_text", "text": "what is my name?"}]]
    assert client.responses.retrieve(second.id).output_text == second.output_text  # the mesh's own store


def test_a_provider_without_the_flag_still_gets_chat_completions(mesh, client):
    mesh.fake.requests.clear()
    response = client.responses.create(model="plain", input=f"hello {EMAIL}")
    assert [r.path for r in mesh.fake.requests] == ["/v1/chat/completions"]
    assert response.output_text == f"Echo: hello {EMAIL}" and EMAIL not in json.dumps(_sent(mesh, "/v1/chat/completions"))


def test_a_failing_native_target_falls_over_to_the_translated_path(mesh, client):
    mesh.fake.requests.clear()
    raw = client.responses.with_raw_response.create(model="fallback", input="are you there?")
    assert [r.path for r in mesh.fake.requests] == ["/v1/responses", "/v1/chat/completions"]
    assert raw.parse().output_text == "Echo: are you there?"
    record, entry = _billed(mesh, raw.headers["x-mesh-request-id"])
    assert (record.provider, entry.provider, entry.attempts) == ("plain", "plain", 2)


def test_a_setting_that_could_carry_text_is_refused_with_a_clear_400(mesh, client):
    with pytest.raises(openai.BadRequestError) as raised:
        client.responses.create(model="native", input="hi", truncation=f"to {EMAIL}")  # type: ignore[arg-type]
    assert raised.value.body["param"] == "truncation" and EMAIL not in str(raised.value)


def test_budget_admission_still_applies_before_a_native_call(mesh):
    mesh.fake.requests.clear()
    broke = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("broke"), max_retries=0)
    with pytest.raises(openai.RateLimitError) as raised:
        broke.responses.create(model="native", input="a question that costs more than the budget allows " * 20)
    assert raised.value.body["code"] == "budget_exceeded" and not mesh.fake.requests


def test_a_malformed_native_answer_is_a_502_in_openai_error_shape(mesh, client):
    with pytest.raises(openai.InternalServerError) as raised:
        client.responses.create(model="broken", input="hi")
    assert raised.value.status_code == 502 and raised.value.body["type"] == "upstream_error"


def test_a_native_stream_that_fails_mid_way_ends_with_the_failed_event(mesh, client):
    with client.responses.with_streaming_response.create(model="failing", input="one two three four", stream=True) as raw:
        request_id = raw.headers["x-mesh-request-id"]
        kinds = [event.type for event in raw.parse()]
    # Text had begun upstream, so the stream was open; the policy held the unfinished sentence back.
    assert kinds[0] == "response.created" and kinds[-2:] == ["error", "response.failed"]
    _, entry = _billed(mesh, request_id)
    assert (entry.status, entry.error_code) == (502, "bad_gateway")


def test_openai_agents_runner_over_a_native_target(mesh):
    agents = pytest.importorskip("agents")
    agents.set_tracing_disabled(True)  # the SDK would export traces to api.openai.com
    seen: list[str] = []

    @agents.function_tool
    def get_order(number: str) -> str:
        """Look an order up by its number."""
        seen.append(number)
        return f"order {number} goes to {EMAIL}"

    mesh.fake.requests.clear()
    client = openai.AsyncOpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
    model = agents.OpenAIResponsesModel(model="native", openai_client=client)  # the SDK's default model class
    agent = agents.Agent(name="support", instructions="Answer about orders.", tools=[get_order], model=model)
    result = agents.Runner.run_sync(agent, "where is order 42?")
    assert seen == ["where is order 42?"] and result.final_output == "Echo: where is order 42?"
    bodies = [r.json for r in mesh.fake.requests]
    assert [r.path for r in mesh.fake.requests] == ["/v1/responses", "/v1/responses"]
    assert EMAIL not in json.dumps(bodies) and "[EMAIL_1]" in json.dumps(bodies[-1]["input"])
