"""`mesh validate --home aws` and `cdk synth` refuse the same configs with the same lines;
the shipped mesh.aws.yaml passes both; IAM principals of every ARN form map to their app."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from llm_mesh.aws.deploy_checks import deploy_problems, principal_warnings
from llm_mesh.config import ConfigError, load_config, parse_config
from llm_mesh.errors import PermissionDenied
from llm_mesh.identity import IamPrincipalAuthenticator, InboundIdentity

ROOT = Path(__file__).resolve().parents[2]

UNDEPLOYABLE = textwrap.dedent(
    """
    version: 1
    providers:
      laptop: {kind: openai, base_url: "http://127.0.0.1:8000/v1"}
      vpc: {kind: openai, base_url: "http://10.1.2.3/v1", api_key: {env: VPC_KEY}}
    routes:
      a: {provider: laptop, model: m}
      b: {provider: vpc, model: m}
      embed: {provider: vpc, model: e}
    knowledge_bases:
      docs:
        store: {kind: opensearch}
        embedding: {kind: route, route: embed}
    """
)


def _validate(path: Path, *args: str) -> tuple[int, str]:
    from llm_mesh.cli.main import cli

    result = CliRunner().invoke(cli, ["validate", *args, str(path)])
    return result.exit_code, result.output


def test_validate_and_synth_refuse_with_the_same_lines(tmp_path: Path) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    from infra.app import build_app

    config = tmp_path / "mesh.yaml"
    config.write_text(UNDEPLOYABLE)
    code, output = _validate(config, "--home", "aws")
    with pytest.raises(ConfigError) as refused:
        build_app({"layerMode": "core", "meshConfig": str(config)}, outdir=str(tmp_path / "out"), build_dir=str(tmp_path / "b"))
    problems = refused.value.problems
    assert code == 1 and all(problem in output for problem in problems)
    assert [p.split(":", 1)[0] for p in problems] == [
        "providers.laptop.base_url", "providers.vpc.base_url", "providers.vpc.api_key",
        "knowledge_bases.docs.store.options.dimensions"]
    assert "loopback" in problems[0] and "allow_private_upstreams" in problems[1] and "{secret: NAME}" in problems[2]
    # the local home accepts the same file: these are deploy checks, not schema errors
    assert _validate(config)[0] == 0


def test_private_upstreams_are_allowed_on_request_loopback_never() -> None:
    config = parse_config({"providers": {"vpc": {"kind": "openai", "base_url": "http://10.1.2.3/v1"},
                                         "lo": {"kind": "bedrock", "options": {"endpoint_url": "http://localhost:4566"}}}})
    problems = deploy_problems(config, allow_private_upstreams=True)
    assert [p.split(":", 1)[0] for p in problems] == ["providers.lo.options.endpoint_url"]


def test_the_shipped_aws_config_is_deployable() -> None:
    config = load_config(ROOT / "mesh.aws.yaml")
    assert deploy_problems(config) == [] and principal_warnings(config) == []
    kinds = {config.providers[t.provider].kind for route in config.routes.values() for t in route.targets}
    assert "echo" not in kinds and "bedrock" in kinds


PRINCIPALS = {
    "user": "arn:aws:iam::111111111111:user/ci/deployer",
    "role": "arn:aws:iam::111111111111:role/bot",
    "service-role": "arn:aws:iam::111111111111:role/service-role/ingest",
    "sso": "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
    "federated": "arn:aws:sts::111111111111:federated-user/alice",
}


@pytest.mark.parametrize(("caller", "app"), [
    ("arn:aws:iam::111111111111:user/ci/deployer", "user"),
    ("arn:aws:sts::111111111111:assumed-role/bot/i-0abc", "role"),
    ("arn:aws:sts::111111111111:assumed-role/ingest/lambda-session", "service-role"),
    ("arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_Admin_0123abcd/alice@example.com", "sso"),
    ("arn:aws:sts::111111111111:federated-user/alice", "federated"),
    ("arn:aws:iam::111111111111:role/bot", "role"),
])
def test_every_arn_form_maps_to_its_app(caller: str, app: str) -> None:
    config = parse_config({"apps": {name: {"principals": [arn]} for name, arn in PRINCIPALS.items()}})
    assert principal_warnings(config) == []
    assert IamPrincipalAuthenticator(config).authenticate(InboundIdentity(iam_principal_arn=caller)).app == app


def test_same_role_name_in_another_account_is_not_mapped() -> None:
    config = parse_config({"apps": {"role": {"principals": [PRINCIPALS["service-role"]]}}})
    with pytest.raises(PermissionDenied):
        IamPrincipalAuthenticator(config).authenticate(
            InboundIdentity(iam_principal_arn="arn:aws:sts::222222222222:assumed-role/ingest/s"))


def test_validate_explains_unmappable_principals(tmp_path: Path) -> None:
    config = tmp_path / "mesh.yaml"
    config.write_text(textwrap.dedent(
        """
        version: 1
        apps:
          a: {principals: ["arn:aws:sts::111111111111:assumed-role/bot/session-1"]}
          b: {principals: ["arn:aws:iam::111111111111:group/devs"]}
          c: {principals: ["arn:aws:iam::111111111111:role/team-*"]}
        """))
    code, output = _validate(config)
    assert code == 0
    assert "warning: apps.a.principals: arn:aws:sts::111111111111:assumed-role/bot/session-1 is one session" in output
    assert "apps.b.principals" in output and "never signs a request" in output
    assert "apps.c.principals" in output and "wildcard" in output
