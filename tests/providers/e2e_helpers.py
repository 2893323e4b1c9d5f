"""Shared pieces of the provider end-to-end tests: the official openai SDK -> a real
mesh server (``tests.harness.serve_mesh``) -> a provider -> its loopback fake."""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import openai
import pytest


def openai_client(mesh: Any, **kwargs: Any) -> openai.OpenAI:
    """The openai SDK pointed at a running mesh, without retries."""
    return openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0, **kwargs)


@contextmanager
def fake_aws_credentials(access_key_id: str = "AKIDMESHE2E", secret_key: str = "mesh-e2e-secret") -> Iterator[None]:
    """Static AWS credentials for boto3 against a fake: no profile, config file, token or instance metadata."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        for name, value in {
            "AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        }.items():
            patch.setenv(name, value)
        yield


# ---------------------------------------------------------------- reading streams
def stream_text(chunks: Iterable[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finish_reasons(chunks: Iterable[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


def tool_call_deltas(chunks: Iterable[Any]) -> list[Any]:
    return [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]


def streamed_arguments(deltas: Iterable[Any]) -> Any:
    """The JSON arguments the tool-call deltas spell out together."""
    return json.loads("".join(d.function.arguments or "" for d in deltas))


def chunks_before_error(stream: Iterable[Any]) -> list[Any]:
    """Read a stream that must end in an explicit error; the chunks that arrived first."""
    received: list[Any] = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk)
    return received


# ---------------------------------------------------------------- conversations
def tool_round_trip(
    client: openai.OpenAI, model: str, tools: list[dict[str, Any]], prompt: str, result: str, **first: Any
) -> tuple[Any, Any, Any]:
    """Ask ``prompt`` with ``tools`` (``first`` adds e.g. tool_choice), answer its first tool
    call with ``result``; returns (first completion, its first tool call, second completion)."""
    user = {"role": "user", "content": prompt}
    completion = client.chat.completions.create(model=model, messages=[user], tools=tools, **first)
    call = completion.choices[0].message.tool_calls[0]
    second = client.chat.completions.create(model=model, tools=tools, messages=[
        user,
        completion.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": result},
    ])
    return completion, call, second


def assert_errors_keep_their_meaning(client: openai.OpenAI, secret: str, retry_after: str) -> None:
    """Routes ``limited``, ``too-long`` and ``blocked`` reach the client as 429 (with
    Retry-After), context_length_exceeded and content_policy_violation, without ``secret``."""
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="limited", messages=[{"role": "user", "content": "x"}])
    assert limited.value.response.headers["retry-after"] == retry_after
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(model="too-long", messages=[{"role": "user", "content": "x"}])
    assert too_long.value.body["code"] == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as blocked:
        client.chat.completions.create(model="blocked", messages=[{"role": "user", "content": "x"}])
    assert blocked.value.body["code"] == "content_policy_violation"
    for error in (limited, too_long, blocked):
        assert secret not in error.value.response.text
