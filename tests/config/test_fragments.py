"""The federated registry: business units' fragments (registry/<unit>/*.yaml) merged
into mesh.yaml, validated together by `mesh validate`, served by the mesh, listed by
GET /v1/mesh/registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from click.testing import CliRunner

from llm_mesh.cli.main import cli
from llm_mesh.config import ConfigError, load_config
from llm_mesh.config.loader import load_merged
from tests.harness import serve_mesh

CENTRAL = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"chat": {"provider": "echo", "model": "echo-1"}},
    "apps": {"test": {"routes": "*", "admin": True}, "plain": {"routes": "*"}},
}
PAYMENTS = {
    "owner": "payments-platform@example.com", "sla": "99.9% monthly", "guardrails": ["pii-mask"],
    "hosting": "in_region", "region": "eu-west-1",
    "models": {"payments-echo": {"provider": "echo", "model": "echo-pay"}},
    "routes": {"payments-chat": {"provider": "echo", "model": "echo-pay"}},
}
RISK = {
    "owner": "risk@example.com", "hosting": "public_api", "region": "us-east-1",
    "routes": {"risk/score": {"provider": "echo", "model": "echo-risk"}},
}


def _write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _validate(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", str(config)])
    return result.exit_code, result.output  # stdout and stderr


@pytest.fixture
def mesh_dir(tmp_path: Path) -> Path:
    _write(tmp_path / "mesh.yaml", CENTRAL)
    return tmp_path


def test_overlapping_fragments_are_refused_naming_both_files(mesh_dir: Path) -> None:
    first = _write(mesh_dir / "registry/payments/models.yaml", PAYMENTS)
    second = _write(mesh_dir / "registry/payments/more.yaml", {
        "owner": "payments-apps@example.com",
        "models": {"payments-echo": {"provider": "echo", "model": "other"}},
        "routes": {"payments-chat": {"provider": "echo", "model": "other"}},
    })
    code, output = _validate(mesh_dir / "mesh.yaml")
    assert code == 1
    route_line = next(line for line in output.splitlines() if "routes.payments-chat" in line)
    model_line = next(line for line in output.splitlines() if "models.payments-echo" in line)
    for line in (route_line, model_line):
        assert str(first) in line and str(second) in line and "declared by both" in line


def test_a_unit_declaring_another_units_route_is_refused(mesh_dir: Path) -> None:
    _write(mesh_dir / "registry/payments/models.yaml", PAYMENTS)
    intruder = _write(mesh_dir / "registry/risk/models.yaml",
                      {**RISK, "routes": {**RISK["routes"], "payments-refunds": {"provider": "echo", "model": "x"}}})
    code, output = _validate(mesh_dir / "mesh.yaml")
    assert code == 1
    line = next(line for line in output.splitlines() if "payments-refunds" in line)
    assert str(intruder) in line
    assert "unit 'risk' may only declare names starting with 'risk-' or 'risk/'" in line
    assert "belongs to unit 'payments'" in line


def test_a_fragment_colliding_with_the_central_file_is_refused_naming_both(mesh_dir: Path) -> None:
    # the central file may declare a unit-prefixed name itself; the fragment then collides with it
    central = {**CENTRAL, "routes": {**CENTRAL["routes"], "payments-chat": {"provider": "echo", "model": "c"}}}
    _write(mesh_dir / "mesh.yaml", central)
    fragment = _write(mesh_dir / "registry/payments/models.yaml", PAYMENTS)
    code, output = _validate(mesh_dir / "mesh.yaml")
    assert code == 1
    line = next(line for line in output.splitlines() if "routes.payments-chat" in line)
    assert str(mesh_dir / "mesh.yaml") in line and str(fragment) in line


def test_a_merged_problem_names_its_fragment(mesh_dir: Path) -> None:
    bad = _write(mesh_dir / "registry/risk/models.yaml",
                 {**RISK, "routes": {"risk-x": {"provider": "nowhere", "model": "m"}}})
    with pytest.raises(ConfigError) as caught:
        load_config(mesh_dir / "mesh.yaml")
    assert any("unknown provider 'nowhere'" in p and str(bad) in p for p in caught.value.problems)


def test_include_list_needs_a_unit_and_stays_inside_the_config_folder(mesh_dir: Path) -> None:
    _write(mesh_dir / "teams/search.yaml", {"owner": "search@example.com", "routes": {}})
    _write(mesh_dir / "mesh.yaml", {**CENTRAL, "registry": {"include": ["teams/*.yaml", "../elsewhere.yaml"],
                                                            "directory": "/etc"}})
    with pytest.raises(ConfigError) as caught:
        load_config(mesh_dir / "mesh.yaml")
    text = "\n".join(caught.value.problems)
    assert "must name its unit" in text and "'../elsewhere.yaml' must be a path relative" in text
    assert "registry.directory: '/etc' must be a folder inside" in text
    _write(mesh_dir / "teams/search.yaml", {"unit": "search", "owner": "search@example.com",
                                           "routes": {"search-qa": {"provider": "echo", "model": "s"}}})
    _write(mesh_dir / "mesh.yaml", {**CENTRAL, "registry": {"include": ["teams/*.yaml"]}})
    assert "search-qa" in load_config(mesh_dir / "mesh.yaml").routes


def test_valid_fragments_merge_validate_and_answer_through_the_mesh(mesh_dir: Path) -> None:
    _write(mesh_dir / "registry/payments/models.yaml", PAYMENTS)
    _write(mesh_dir / "registry/risk/models.yml", RISK)
    code, output = _validate(mesh_dir / "mesh.yaml")
    assert code == 0, output
    assert "3 routes" in output
    config = load_config(mesh_dir / "mesh.yaml")
    entry = config.models["payments-echo"]  # the fragment's metadata is the entry's default
    assert (entry.owner, entry.sla, entry.hosting, entry.region, entry.guardrails) == (
        "payments-platform@example.com", "99.9% monthly", "in_region", "eu-west-1", ("pii-mask",))
    with serve_mesh(load_merged(mesh_dir / "mesh.yaml")) as mesh:
        client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key, max_retries=0)
        for route in ("payments-chat", "risk/score", "chat"):
            reply = client.chat.completions.create(model=route, messages=[{"role": "user", "content": "hi"}])
            assert reply.choices[0].message.content

        listed = httpx.get(f"{mesh.base_url}/mesh/registry", headers={"Authorization": f"Bearer {mesh.api_key}"})
        assert listed.status_code == 200
        by_unit = {item["unit"]: item for item in listed.json()["data"]}
        assert by_unit["payments"] == {
            "unit": "payments", "path": "registry/payments/models.yaml", "owner": "payments-platform@example.com",
            "description": None, "sla": "99.9% monthly", "guardrails": ["pii-mask"], "hosting": "in_region",
            "region": "eu-west-1", "models": ["payments-echo"], "routes": ["payments-chat"],
        }
        assert by_unit["risk"]["path"] == "registry/risk/models.yml" and by_unit["risk"]["routes"] == ["risk/score"]

        plain = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.key_for("plain"), max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as denied:
            plain.get("/mesh/registry", cast_to=httpx.Response)
        assert denied.value.status_code == 403
        assert denied.value.response.json() == {"error": {
            "message": "the management API is for admin apps only", "type": "permission_error",
            "param": None, "code": "permission_denied"}}


def test_registry_fragments_cannot_be_written_by_hand(mesh_dir: Path) -> None:
    forged = {"unit": "payments", "path": "x.yaml", "owner": "me"}
    _write(mesh_dir / "mesh.yaml", {**CENTRAL, "registry": {"fragments": [forged]}})
    code, output = _validate(mesh_dir / "mesh.yaml")
    assert code == 1 and "registry.fragments: filled from the fragment files" in output


def test_the_lambda_bundle_carries_the_fragments(mesh_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from layers.build import stage_function

    _write(mesh_dir / "registry/payments/models.yaml", PAYMENTS)
    _write(mesh_dir / "teams/risk.yaml", {**RISK, "unit": "risk"})
    _write(mesh_dir / "mesh.yaml", {**CENTRAL, "registry": {"include": ["teams/risk.yaml"]}})
    bundle = stage_function("gateway", mesh_dir / "mesh.yaml", tmp_path_factory.mktemp("build"))
    assert set(load_config(bundle / "mesh.yaml").routes) == {"chat", "payments-chat", "risk/score"}
