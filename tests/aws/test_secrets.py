"""SecretsManagerResolver: env refs, Secrets Manager refs (through Powertools, against moto), JSON fields."""

from __future__ import annotations

import json
import uuid

import pytest
from moto import mock_aws

from llm_mesh.aws.secrets import SecretsManagerResolver
from llm_mesh.config.schema import SecretRef
from llm_mesh.secrets import MissingSecret


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        from aws_lambda_powertools.utilities import parameters

        parameters.base.DEFAULT_PROVIDERS.clear()  # a client bound to the mock
        import boto3

        yield boto3.client("secretsmanager", region_name="eu-west-1")
        parameters.base.DEFAULT_PROVIDERS.clear()


def test_env_reference() -> None:
    resolver = SecretsManagerResolver(environ={"KEY": "v"})
    assert resolver.resolve(SecretRef(env="KEY")) == "v"
    with pytest.raises(MissingSecret, match="OTHER"):
        resolver.resolve(SecretRef(env="OTHER"))


def test_plain_and_json_field_secrets_through_powertools(aws) -> None:
    plain, structured = f"mesh/plain-{uuid.uuid4().hex[:6]}", f"mesh/json-{uuid.uuid4().hex[:6]}"
    aws.create_secret(Name=plain, SecretString="sk-plain-value")
    aws.create_secret(Name=structured, SecretString=json.dumps({"api_key": "sk-json-value", "org": "o"}))
    resolver = SecretsManagerResolver(environ={})
    assert resolver.resolve(SecretRef(secret=plain)) == "sk-plain-value"
    assert resolver.resolve(SecretRef(secret=structured, field="api_key")) == "sk-json-value"
    with pytest.raises(MissingSecret) as missing_field:
        resolver.resolve(SecretRef(secret=structured, field="nope"))
    assert "sk-json-value" not in str(missing_field.value)
    with pytest.raises(MissingSecret) as not_json:
        resolver.resolve(SecretRef(secret=plain, field="api_key"))
    assert "sk-plain-value" not in str(not_json.value)


def test_missing_secret_names_the_reference_not_a_value(aws) -> None:
    resolver = SecretsManagerResolver(environ={})
    with pytest.raises(MissingSecret, match="mesh/absent"):
        resolver.resolve(SecretRef(secret="mesh/absent"))


def test_values_are_cached_for_max_age() -> None:
    calls = []

    def fetch(name: str, *, transform: None, max_age: int) -> str:
        calls.append((name, max_age))
        return "v"

    resolver = SecretsManagerResolver(environ={}, max_age=300, fetch=fetch)
    assert resolver.resolve(SecretRef(secret="s")) == "v"
    assert calls == [("s", 300)]  # Powertools keys its cache on (name, transform) for max_age seconds


def test_a_shared_session_serves_the_reads_with_the_same_cache(aws) -> None:
    import boto3

    name = f"mesh/shared-{uuid.uuid4().hex[:6]}"
    aws.create_secret(Name=name, SecretString=json.dumps({"api_key": "sk-shared"}))
    resolver = SecretsManagerResolver(environ={}, session=boto3.session.Session(region_name="eu-west-1"))
    assert resolver.resolve(SecretRef(secret=name, field="api_key")) == "sk-shared"
    aws.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    assert resolver.resolve(SecretRef(secret=name, field="api_key")) == "sk-shared"  # cached for max_age
    with pytest.raises(MissingSecret, match="mesh/gone"):
        resolver.resolve(SecretRef(secret="mesh/gone"))
