"""A deployed fleet is routable: each fleet model implies a sagemaker provider on its planned pool's
endpoint and inference component, reached through the openai SDK -> the mesh -> boto3 -> the fake."""

from __future__ import annotations

import copy

import openai
import pytest

from llm_mesh.config import parse_config
from llm_mesh.fleet.config import FleetSection
from llm_mesh.fleet.expand import expand_fleet
from llm_mesh.fleet.planner import plan_fleet
from tests.fakes.sagemaker_upstream import start_fake_sagemaker
from tests.harness import serve_mesh
from tests.providers.e2e_helpers import fake_aws_credentials, openai_client, stream_text

# endpoint_prefix "vllm": the fake picks the container by the endpoint name's prefix
FLEET = {
    "deploy": True, "endpoint_prefix": "vllm",
    "pools": {"g5": {"instance_type": "ml.g5.xlarge", "max_instances": 4},
              "p4d": {"instance_type": "ml.p4d.24xlarge", "max_instances": 1}},
    "models": {
        "chat-3b": {"parameters_b": 3.2, "max_context": 4096, "image": "vllm:0.8.5-gpu-py312", "model_id": "org/chat-3b"},
        "big-70b": {"parameters_b": 70, "image": "vllm:0.8.5-gpu-py312", "model_id": "org/big-70b"},
        "rare-8b": {"parameters_b": 8, "min_copies": 0, "scale_to_zero": True, "image": "vllm:0.8.5-gpu-py312",
                    "model_id": "org/rare-8b"},
    },
    "traffic": {"chat-3b": {"requests_per_s": 0.2}, "big-70b": {"requests_per_s": 0.3}},
}
BASE = {"providers": {"echo": {"kind": "echo"}}, "routes": {"echo": {"provider": "echo", "model": "echo-1"}}}


def test_each_fleet_model_implies_a_provider_on_its_planned_pool():
    raw = {**BASE, "fleet": FLEET}
    before = copy.deepcopy(raw)
    out = expand_fleet(raw)
    assert raw == before
    assert out["providers"]["big-70b"] == {"kind": "sagemaker", "options": {
        "endpoint_name": "vllm-p4d", "inference_component": "vllm-big-70b", "payload_format": "vllm_openai",
        "context_window": 8192}}
    assert out["routes"]["chat-3b"] == {"provider": "chat-3b", "model": "chat-3b"}
    assert out["models"]["rare-8b"]["hosting"] == "self_hosted"
    declared = {**BASE, "routes": {**BASE["routes"], "chat-3b": {"provider": "echo", "model": "echo-1"}}, "fleet": FLEET}
    assert expand_fleet(declared)["routes"]["chat-3b"] == {"provider": "echo", "model": "echo-1"}  # declared wins
    assert expand_fleet({**BASE, "fleet": {**FLEET, "deploy": False}}) == {**BASE, "fleet": {**FLEET, "deploy": False}}
    broken = {**BASE, "fleet": {**FLEET, "pools": {}}}
    assert expand_fleet(broken) is broken  # validation reports it
    assert set(parse_config(out).routes) >= {"chat-3b", "big-70b", "rare-8b"}


@pytest.fixture(scope="module")
def served():
    with fake_aws_credentials(), start_fake_sagemaker() as fake, pytest.MonkeyPatch.context() as patch:
        # as on Lambda, the region comes from the environment; here the endpoint URL (the fake) too
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", fake.url)
        with serve_mesh({**BASE, "fleet": FLEET}) as mesh:
            yield mesh, fake


def test_fleet_routes_reach_their_inference_components(served):
    mesh, fake = served
    client = openai_client(mesh)
    before = len(fake.requests)
    answer = client.chat.completions.create(model="big-70b", messages=[{"role": "user", "content": "plan"}])
    assert answer.choices[0].message.content == "Echo: plan"
    chunks = client.chat.completions.create(model="chat-3b", messages=[{"role": "user", "content": "packed"}], stream=True)
    assert stream_text(chunks) == "Echo: packed"
    calls = [(r.path, {k.lower(): v for k, v in r.headers.items()}["x-amzn-sagemaker-inference-component"])
             for r in fake.requests[before:]]
    pool = plan_fleet(FleetSection.model_validate(FLEET)).shapes["chat-3b"][0]
    assert calls == [("/endpoints/vllm-p4d/invocations", "vllm-big-70b"),
                     (f"/endpoints/vllm-{pool}/invocations-response-stream", "vllm-chat-3b")]


def test_a_scaled_to_zero_fleet_model_without_a_fallback_answers_503(served):
    mesh, fake = served
    fake.scaled_to_zero = {"vllm-rare-8b"}
    try:
        with pytest.raises(openai.InternalServerError) as raised:
            openai_client(mesh).chat.completions.create(model="rare-8b", messages=[{"role": "user", "content": "hi"}])
    finally:
        fake.scaled_to_zero = set()
    assert raised.value.status_code == 503
    assert raised.value.response.json()["error"]["code"] == "upstream_scaled_to_zero"
