"""The redaction Lambda in the synthesized stack: its own function behind POST
/v1/mesh/redact (IAM auth), the rest of /v1/mesh still on the gateway, governance
permissions (SNS alerts, Comprehend) granted only when the config uses them; and the
handler itself answering an API Gateway event."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

CONFIG = textwrap.dedent(
    """
    version: 1
    providers:
      echo: {kind: echo}
    routes:
      echo: {provider: echo, model: echo-1}
    apps:
      bot:
        routes: [echo]
        principals: [arn:aws:iam::123456789012:role/bot]
    policies:
      strict: {actions: {US_SSN: block}}
    governance:
      bindings: {default: strict}
      detectors:
        strict: [{kind: comprehend, region: eu-west-1}]
      alerts: {sns_topic_arn: "arn:aws:sns:eu-west-1:123456789012:mesh-alerts"}
    """
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from infra.app import build_app

    base = tmp_path_factory.mktemp("cdk-redact")
    config_path = base / "mesh.yaml"
    config_path.write_text(CONFIG)
    app, stack = build_app({"layerMode": "core", "meshConfig": str(config_path)}, outdir=str(base / "out"), build_dir=str(base / "build"))
    return app.synth().get_stack_by_name(stack.stack_name).template  # cdk-nag findings would raise here


def _of(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_redact_function_behind_post_v1_mesh_redact(template) -> None:
    functions = _of(template, "AWS::Lambda::Function")
    redact = [k for k, f in functions.items() if "redaction as a service" in f["Properties"].get("Description", "")]
    assert len(redact) == 1
    props = functions[redact[0]]["Properties"]
    assert props["Handler"] == "handler.handler" and props["Environment"]["Variables"]["MESH_HOME"] == "aws"
    resources = _of(template, "AWS::ApiGateway::Resource")
    by_part = {v["Properties"]["PathPart"]: k for k, v in resources.items()}
    assert {"mesh", "redact"} <= set(by_part)
    methods = [m["Properties"] for m in _of(template, "AWS::ApiGateway::Method").values()]
    on_redact = [m for m in methods if m["ResourceId"] == {"Ref": by_part["redact"]}]
    assert [m["HttpMethod"] for m in on_redact] == ["POST"]
    assert on_redact[0]["AuthorizationType"] == "AWS_IAM"
    assert redact[0] in json.dumps(on_redact[0]["Integration"]["Uri"])
    on_mesh = {m["HttpMethod"] for m in methods if m["ResourceId"] == {"Ref": by_part["mesh"]}}
    assert on_mesh == {"ANY"}  # /v1/mesh/models, /v1/mesh/audit... still reach the gateway


def test_governance_permissions(template) -> None:
    statements = [s for p in _of(template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    sns = [s for s in statements if s["Action"] == "sns:Publish"]
    assert sns and all(s["Resource"] == "arn:aws:sns:eu-west-1:123456789012:mesh-alerts" for s in sns)
    assert len(sns) == 3  # redact + both gateway functions
    assert any(s["Action"] == "comprehend:DetectPiiEntities" for s in statements)


def test_handler_answers_an_api_gateway_event(monkeypatch, tmp_path: Path) -> None:
    import importlib.util

    config = tmp_path / "mesh.yaml"
    config.write_text(CONFIG.split("  detectors:")[0])  # no AWS detectors or SNS: nothing leaves the test
    monkeypatch.setenv("MESH_CONFIG", str(config))
    spec = importlib.util.spec_from_file_location("redact_handler", Path(__file__).resolve().parents[2] / "functions/redact/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]

    def event(arn: str, body: dict) -> dict:
        return {
            "resource": "/v1/mesh/redact", "path": "/v1/mesh/redact", "httpMethod": "POST",
            "headers": {"content-type": "application/json"}, "multiValueHeaders": {"content-type": ["application/json"]},
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
            "stageVariables": None, "isBase64Encoded": False, "body": json.dumps(body),
            "requestContext": {"resourcePath": "/v1/mesh/redact", "httpMethod": "POST", "path": "/prod/v1/mesh/redact",
                               "stage": "prod", "requestId": "r1", "identity": {"userArn": arn, "sourceIp": "10.0.0.1"}},
        }

    class Ctx:
        aws_request_id = "r1"

    ok = module.handler(event("arn:aws:iam::123456789012:role/bot", {"text": "mail jane@example.com"}), Ctx())
    assert ok["statusCode"] == 200
    body = json.loads(ok["body"])
    assert body["text"] == "mail [EMAIL_1]" and body["findings"][0][0]["type"] == "EMAIL"
    blocked = module.handler(event("arn:aws:iam::123456789012:role/bot", {"text": "ssn 123-45-6789"}), Ctx())
    assert blocked["statusCode"] == 400 and "123-45-6789" not in blocked["body"]
    stranger = module.handler(event("arn:aws:iam::999999999999:role/x", {"text": "x"}), Ctx())
    assert stranger["statusCode"] == 403
