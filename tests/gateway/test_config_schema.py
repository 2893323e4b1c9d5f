"""mesh.yaml's JSON Schema (for editors) stays in step with the pydantic models, and the
example config in the repo is valid."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from llm_mesh.cli.main import cli
from llm_mesh.config import ConfigError, load_config, parse_config
from llm_mesh.config.loader import json_schema

ROOT = Path(__file__).resolve().parents[2]


def test_committed_json_schema_is_current():
    committed = json.loads((ROOT / "mesh.schema.json").read_text())
    assert committed == json.loads(json_schema()), "run `mesh schema > mesh.schema.json`"


def test_example_config_is_valid():
    config = load_config(ROOT / "mesh.yaml")
    assert "support-chat" in config.routes and config.routes["support-chat"].targets


def test_validate_prints_every_problem_with_its_path(tmp_path):
    bad = tmp_path / "mesh.yaml"
    bad.write_text(
        "providers:\n  p: {kind: openai, api_key: sk-inline-secret}\n  q: {kind: nope}\n"
        "routes:\n  r: {provider: p, model: m, extra: 1}\n"
    )
    result = CliRunner().invoke(cli, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "providers.p.api_key: inline secrets are not allowed" in result.output
    assert "providers.q.kind: unknown provider kind 'nope'" in result.output
    assert "routes.r.extra: Extra inputs are not permitted" in result.output
    assert "sk-inline-secret" not in result.output


def test_reference_errors_name_their_path():
    try:
        parse_config({"providers": {"p": {"kind": "echo"}}, "routes": {"r": {"provider": "ghost", "model": "m"}},
                      "apps": {"a": {"routes": ["nowhere"]}}})
    except ConfigError as error:
        text = "\n".join(error.problems)
        assert "routes.r.targets.0.provider: unknown provider 'ghost'" in text
        assert "apps.a.routes: unknown route 'nowhere'" in text
    else:
        raise AssertionError("an invalid config was accepted")
