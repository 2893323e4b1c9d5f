"""Knowledge bases on AWS in the synthesized stack: the OpenSearch Serverless vector collection
with its policies, the index custom resource, the documents bucket and its ingest function,
least-privilege IAM; nothing of it without an OpenSearch knowledge base. cdk-nag runs at synth."""

from __future__ import annotations

import json
import os
import textwrap
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

CONFIG = textwrap.dedent(
    """
    version: 1
    providers: {echo: {kind: echo}}
    routes: {echo: {provider: echo, model: echo-1, knowledge_base: handbook}}
    apps: {bot: {routes: [echo], principals: ["arn:aws:iam::123456789012:role/bot"]}}
    knowledge_bases:
      handbook:
        store: {kind: opensearch, options: {hybrid: true}}
        embedding: {kind: hashing, dimensions: 256}
        readers: [bot]
    """
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from infra.app import build_app

    base = tmp_path_factory.mktemp("cdk-kb")
    config_path = base / "mesh.yaml"
    config_path.write_text(CONFIG)
    (base / "prompts" / "greet").mkdir(parents=True)
    (base / "prompts" / "greet" / "v1.yaml").write_text("route: echo\nmessages: [{role: system, content: hi}]\n")
    app, stack = build_app({"layerMode": "core", "meshConfig": str(config_path)}, outdir=str(base / "out"), build_dir=str(base / "build"))
    result = app.synth().get_stack_by_name(stack.stack_name).template  # cdk-nag findings would raise here
    result["_outdir"] = str(base / "out")
    return result


def _of(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_vector_collection_with_encryption_and_network_policies(template) -> None:
    [collection] = _of(template, "AWS::OpenSearchServerless::Collection").values()
    assert collection["Properties"]["Type"] == "VECTORSEARCH"
    name = collection["Properties"]["Name"]
    policies = {p["Properties"]["Type"]: p for p in _of(template, "AWS::OpenSearchServerless::SecurityPolicy").values()}
    encryption = json.loads(policies["encryption"]["Properties"]["Policy"])
    assert encryption == {"Rules": [{"ResourceType": "collection", "Resource": [f"collection/{name}"]}], "AWSOwnedKey": True}
    network = json.loads(policies["network"]["Properties"]["Policy"])
    assert network[0]["Rules"][0]["Resource"] == [f"collection/{name}"]
    assert set(collection["DependsOn"]) >= {k for k, v in _of(template, "AWS::OpenSearchServerless::SecurityPolicy").items()}


def test_data_access_policy_names_only_the_mesh_roles(template) -> None:
    [policy] = _of(template, "AWS::OpenSearchServerless::AccessPolicy").values()
    text = json.dumps(policy["Properties"]["Policy"])
    roles = {k for k, v in _of(template, "AWS::IAM::Role").items()}
    referenced = {r for r in roles if f'"{r}"' in text}
    functions = _of(template, "AWS::Lambda::Function")
    gateway_roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values() if "gateway" in f["Properties"].get("Description", "")}
    kb_roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()
                if "knowledge-base" in f["Properties"].get("Description", "")}
    assert len(gateway_roles) == 2 and len(kb_roles) == 2 and referenced == gateway_roles | kb_roles
    assert "aoss:ReadDocument" in text and "aoss:WriteDocument" in text and "aoss:*" not in text


def test_no_wildcard_actions_and_scoped_grants(template) -> None:
    statements = [s for p in _of(template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not [a for a in actions if a == "*" or a.endswith(":*")], statement
    aoss_grants = [s for s in statements if s["Action"] == "aoss:APIAccessAll"]
    assert len(aoss_grants) == 4 and all("Fn::GetAtt" in s["Resource"] for s in aoss_grants)
    [s3_read] = [s for s in statements if s["Action"] == "s3:GetObject"]
    assert json.dumps(s3_read["Resource"]).endswith('"/kb/*"]]}')


def test_bucket_encrypted_versioned_ssl_only_logged_and_notifying(template) -> None:
    buckets = _of(template, "AWS::S3::Bucket")
    documents = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    assert len(documents) == 1
    props = documents[0]["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert props["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] is True
    ssl = [p for k, p in _of(template, "AWS::S3::BucketPolicy").items() if "AuditTrailAnchors" not in k
           and any(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false" for s in p["Properties"]["PolicyDocument"]["Statement"])]
    assert len(ssl) == 2
    [notifications] = _of(template, "Custom::S3BucketNotifications").values()
    config = notifications["Properties"]["NotificationConfiguration"]["LambdaFunctionConfigurations"]
    assert {c["Events"][0] for c in config} == {"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}
    assert all(c["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "kb/"}] for c in config)


def test_index_custom_resource_and_endpoint_on_the_functions(template) -> None:
    [index] = _of(template, "Custom::MeshVectorIndex").values()
    props = index["Properties"]
    assert props["Index"] == "mesh-kb-handbook" and props["Dimensions"] == "256" and props["Hybrid"] == "true"
    assert props["Endpoint"]["Fn::GetAtt"][1] == "CollectionEndpoint"
    functions = _of(template, "AWS::Lambda::Function")
    creator = [k for k, f in functions.items() if f["Properties"]["Handler"] == "handler.create_index"]
    assert props["ServiceToken"] == {"Fn::GetAtt": [creator[0], "Arn"]}
    with_endpoint = [f for f in functions.values() if "MESH_OPENSEARCH_ENDPOINT" in f["Properties"].get("Environment", {}).get("Variables", {})]
    assert len(with_endpoint) == 3  # both gateway functions and the ingest function


def test_prompt_files_travel_with_the_function_bundles(template) -> None:
    from pathlib import Path

    assets = [p for p in Path(template["_outdir"]).iterdir() if (p / "mesh.yaml").exists()]
    assert assets and all((p / "prompts" / "greet" / "v1.yaml").exists() for p in assets)


def test_no_opensearch_knowledge_base_no_resources(tmp_path) -> None:
    from infra.app import build_app

    config_path = tmp_path / "mesh.yaml"
    config_path.write_text(CONFIG.replace("{kind: opensearch, options: {hybrid: true}}", "{kind: embedded}"))
    app, stack = build_app({"layerMode": "core", "meshConfig": str(config_path)}, outdir=str(tmp_path / "out"), build_dir=str(tmp_path / "b"))
    assert stack.knowledge_bases is None
    resources = app.synth().get_stack_by_name(stack.stack_name).template["Resources"]
    types = {r["Type"] for k, r in resources.items() if "AuditTrailAnchors" not in k}  # the audit anchors stay
    assert not {t for t in types if "OpenSearch" in t or t == "AWS::S3::Bucket"}
