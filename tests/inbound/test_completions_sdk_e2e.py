"""Legacy text completions end to end: the official openai SDK's ``client.completions`` -> the
mesh's ``POST /v1/completions`` (real HTTP) -> the fake OpenAI upstream (chat), streamed and not.
The prompt travels as a canonical chat request, so routing, governance and the request log apply."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.harness import serve_mesh

EMAIL = "lena.fischer@contoso-mail.example"


@pytest.fixture(scope="module")
def mesh():
    with start_fake_openai() as fake:
        config = {
            "providers": {"fake": {"kind": "openai", "base_url": fake.base_url, "api_key": {"env": "FAKE_KEY"}}},
            "routes": {"gpt": {"provider": "fake", "model": "gpt-4o-mini"},
                       "guarded": {"provider": "fake", "model": "gpt-4o-mini"}},
            "policies": {"pii": {"actions": {"EMAIL": "redact"}, "restore_output": False}},
            "governance": {"bindings": {"routes": {"guarded": "pii"}}},
        }
        with serve_mesh(config, env={"FAKE_KEY": "k"}) as running:
            running.fake = fake  # type: ignore[attr-defined]
            yield running


@pytest.fixture(scope="module")
def client(mesh):
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)


def test_prompt_string_with_stop_and_usage(mesh, client):
    raw = client.completions.with_raw_response.create(model="gpt", prompt="alpha beta STOP gamma", stop=["STOP"],
                                                      max_tokens=50, temperature=0.2)
    completion = raw.parse()
    assert completion.object == "text_completion" and completion.id.startswith("cmpl-")
    [choice] = completion.choices
    assert (choice.text, choice.index, choice.finish_reason, choice.logprobs) == ("Echo: alpha beta ", 0, "stop", None)
    sent = mesh.fake.last.json
    assert sent["messages"] == [{"role": "user", "content": "alpha beta STOP gamma"}]
    assert (sent["stop"], sent["max_tokens"], sent["temperature"]) == (["STOP"], 50, 0.2)
    assert completion.usage.prompt_tokens > 0 and completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens)
    mesh.flush_logs()
    entry = mesh.runtime.stores.request_log.get(raw.headers["x-mesh-request-id"])
    assert (entry.endpoint, entry.route, entry.status, entry.completion_tokens) == (
        "completions", "gpt", 200, completion.usage.completion_tokens)


def test_default_max_tokens_is_sixteen_and_length_finish(mesh, client):
    words = " ".join(f"w{i}" for i in range(40))
    completion = client.completions.create(model="gpt", prompt=words)
    assert mesh.fake.last.json["max_tokens"] == 16
    assert completion.choices[0].finish_reason == "length"


def test_prompt_list_with_n_numbers_choices_per_prompt(client):
    completion = client.completions.create(model="gpt", prompt=["one", "two"], n=2, max_tokens=10, echo=True)
    assert [c.index for c in completion.choices] == [0, 1, 2, 3]
    assert [c.text for c in completion.choices] == ["oneEcho: one"] * 2 + ["twoEcho: two"] * 2


def test_stream_text_completion_chunks_and_usage(client):
    stream = client.completions.create(model="gpt", prompt="stream these words please", max_tokens=20, stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert {c.object for c in chunks} == {"text_completion"}
    text_chunks = [c for c in chunks if c.choices]
    assert "".join(c.choices[0].text for c in text_chunks) == "Echo: stream these words please"
    assert [c.choices[0].finish_reason for c in text_chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in text_chunks[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_governance_applies_to_the_prompt(mesh, client):
    completion = client.completions.create(model="guarded", prompt=f"write to {EMAIL}", max_tokens=30)
    assert EMAIL not in mesh.fake.last.json["messages"][0]["content"]
    assert EMAIL not in completion.choices[0].text


@pytest.mark.parametrize("extra, param", [({"prompt": [1, 2, 3]}, "prompt"), ({"prompt": "x", "suffix": "y"}, "suffix"),
                                          ({"prompt": "x", "best_of": 3}, "best_of")])
def test_untranslatable_requests_are_clear_400s(client, extra, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model="gpt", **extra)
    assert caught.value.status_code == 400 and caught.value.body["param"] == param
