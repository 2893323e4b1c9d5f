"""The shipped AWS config, replayed through functions/gateway/handler.py: chat reaches
Bedrock (boto3 against a loopback Bedrock Runtime fake), never the echo double, and the
request's metrics are printed as EMF although the config has no ``costs:`` section."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest
import yaml

from tests.fakes.bedrock_upstream import FakeBedrock, start_fake_bedrock
from tests.functions.test_gateway_handler import ROOT, invoke, load_event, load_handler
from tests.providers.e2e_helpers import fake_aws_credentials


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrock]:
    with start_fake_bedrock() as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, bedrock: FakeBedrock, dynamodb_local_endpoint: str,
            dynamodb_local_client: Any) -> Iterator[ModuleType]:
    from llm_mesh.stores.dynamodb import create_tables
    from llm_mesh.stores.dynamodb.tables import TABLES
    from tests.fixtures.dynamodb_local import DUMMY_CREDENTIALS

    config = yaml.safe_load((ROOT / "mesh.aws.yaml").read_text())
    config.pop("costs")  # metrics must not depend on it
    config["providers"]["bedrock"]["options"] = {"endpoint_url": bedrock.url, "region": "us-east-1"}
    path = tmp_path_factory.mktemp("aws-default") / "mesh.yaml"
    path.write_text(yaml.safe_dump(config))
    names = {spec.logical: f"default-{uuid.uuid4().hex[:8]}-{spec.logical}" for spec in TABLES}
    create_tables(dynamodb_local_client, names)
    with fake_aws_credentials(DUMMY_CREDENTIALS["aws_access_key_id"], DUMMY_CREDENTIALS["aws_secret_access_key"]), \
            pytest.MonkeyPatch.context() as patch:
        for key, value in {"MESH_CONFIG": str(path), "MESH_HOME": "aws", "MESH_DYNAMODB_ENDPOINT": dynamodb_local_endpoint,
                           "AWS_DEFAULT_REGION": DUMMY_CREDENTIALS["region_name"],
                           **{spec.env_var: names[spec.logical] for spec in TABLES}}.items():
            patch.setenv(key, value)
        yield load_handler("default_gateway_under_test")
    for name in names.values():
        dynamodb_local_client.delete_table(TableName=name)


def _emf(stdout: str) -> list[dict[str, Any]]:
    documents = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def test_chat_is_answered_by_bedrock_with_emf_metrics(gateway: ModuleType, bedrock: FakeBedrock,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    status, headers, body = invoke(gateway, load_event("chat_completions.json"))
    assert status == 200, body
    assert headers["x-mesh-provider"] == "bedrock"
    assert headers["x-mesh-model"] == "us.anthropic.claude-3-5-haiku-20241022-v1:0"
    assert any(r.path.endswith("/converse") for r in bedrock.requests)
    [request] = [d for d in _emf(capsys.readouterr().out) if "Requests" in d]
    assert request["Requests"] == [1.0] and request["Errors"] == [0.0] and request["Latency"][0] > 0
    assert (request["route"], request["provider"], request["app"]) == ("support-chat", "bedrock", "support-bot")
    dimension_sets = request["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert ["service"] in dimension_sets  # the roll-up the alarms read


def test_an_unknown_model_still_counts_as_an_error(gateway: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    status, _, _ = invoke(gateway, load_event("chat_unknown_model.json"))
    assert status == 404
    errors = [d for d in _emf(capsys.readouterr().out) if "Errors" in d]
    assert errors and errors[-1]["Errors"] == [1.0]
