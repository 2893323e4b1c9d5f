"""A route to a scaled-to-zero SageMaker inference component answers from its fallback while the
component wakes, and goes back to it once awake: the openai SDK -> the mesh -> boto3 -> the fakes.

While an inference component has no copies SageMaker answers ValidationError (400) "Inference
Component has no capacity to process this request ..."; every such invocation is what raises the
NoCapacityInvocationFailures alarm that scales it out, so the mesh keeps invoking it (its circuit
stays closed) and fails over for the answer.
"""

from __future__ import annotations

import openai
import pytest

from tests.fakes.openai_upstream import start_fake_openai
from tests.fakes.sagemaker_upstream import start_fake_sagemaker
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import fake_aws_credentials, openai_client, stream_text

COMPONENT = "ic-rare-8b"


@pytest.fixture(scope="module")
def sagemaker():
    with fake_aws_credentials(), start_fake_sagemaker() as fake:
        yield fake


@pytest.fixture(scope="module")
def mesh(sagemaker):
    with start_fake_openai() as backup:
        sm = {"kind": "sagemaker", "options": {"region": "us-east-1", "endpoint_url": sagemaker.url,
                                               "endpoint_name": "vllm-fleet", "inference_component": COMPONENT,
                                               "payload_format": "vllm_openai", "read_timeout": 10}}
        config = {
            "providers": {"fleet": sm, "backup": {"kind": "openai", "base_url": backup.base_url, "api_key": {"env": "BACKUP_KEY"}}},
            "routes": {
                "rare": {"targets": [{"provider": "fleet", "model": "rare-8b"},
                                     {"provider": "backup", "model": "gpt-4o-mini"}],
                         "retry": {"attempts": 2}, "circuit_breaker": {"failure_threshold": 2}},
                "rare-only": {"provider": "fleet", "model": "rare-8b", "retry": {"attempts": 2}},
            },
        }
        with serve_mesh(config, env={"BACKUP_KEY": "sk-backup"}) as running:
            yield running


def _invocations(fake) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in fake.requests if r.path.startswith("/endpoints/vllm-fleet/"))


def test_waking_component_is_answered_by_the_fallback_then_serves_again_once_awake(mesh, sagemaker):
    sagemaker.scaled_to_zero = {COMPONENT}
    client, before = openai_client(mesh), _invocations(sagemaker)
    for _ in range(5):  # more than the circuit's failure_threshold of 2
        raw = client.chat.completions.with_raw_response.create(model="rare", messages=[{"role": "user", "content": "hi"}])
        assert raw.headers["x-mesh-provider"] == "backup"
        assert raw.headers["x-mesh-fallback-reason"] == "fleet:upstream_scaled_to_zero"
        assert raw.parse().choices[0].message.content
    stream = client.chat.completions.create(model="rare", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert stream_text(stream)
    # every request still invoked the component once (no same-target retries, no open circuit):
    # each failed invocation is what the scale-out alarm counts
    assert _invocations(sagemaker) - before == 6

    sagemaker.scaled_to_zero = set()  # the component has scaled out
    raw = client.chat.completions.with_raw_response.create(model="rare", messages=[{"role": "user", "content": "wake"}])
    assert raw.headers["x-mesh-provider"] == "fleet"
    assert raw.parse().choices[0].message.content == "Echo: wake"
    chunks = client.chat.completions.create(model="rare", messages=[{"role": "user", "content": "up"}], stream=True)
    assert stream_text(chunks) == "Echo: up"


def test_without_a_fallback_the_caller_gets_503_with_retry_after(mesh, sagemaker):
    sagemaker.scaled_to_zero = {COMPONENT}
    client, before = openai_client(mesh), _invocations(sagemaker)
    with pytest.raises(openai.InternalServerError) as raised:
        client.chat.completions.create(model="rare-only", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.status_code == 503
    assert raised.value.response.headers["retry-after"] == "60"
    error = raised.value.response.json()["error"]
    assert error["code"] == "upstream_scaled_to_zero" and "scaled to zero" in error["message"]
    assert _invocations(sagemaker) - before == 1  # retries of the same target skipped: it is minutes away
    sagemaker.scaled_to_zero = set()
