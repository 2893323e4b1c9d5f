"""The CLI where users look: one store next to the config wherever the command runs,
bind errors before any banner, `mesh doctor`, and what the echo double shows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import yaml
from click.testing import CliRunner

from llm_mesh.cli.main import cli
from tests.harness import serve_mesh

CONFIG = {
    "providers": {"echo": {"kind": "echo"}, "paid": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1",
                                                     "api_key": {"env": "MESH_TEST_MISSING_KEY"}}},
    "routes": {
        "echo": {"provider": "echo", "model": "echo-1"},
        "chat": {"targets": [{"provider": "paid", "model": "gpt-x"}, {"provider": "echo", "model": "echo-1"}]},
        "embed": {"targets": [{"provider": "paid", "model": "emb-x"}, {"provider": "echo", "model": "echo-embed"}]},
    },
    "apps": {"local": {"routes": "*", "admin": True}},
}


def _project(tmp_path: Path) -> Path:
    (tmp_path / "mesh.yaml").write_text(yaml.safe_dump(CONFIG))
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    return tmp_path


def test_a_key_made_from_a_sub_folder_lands_in_the_store_next_to_the_config(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.delenv("MESH_CONFIG", raising=False)
    monkeypatch.delenv("MESH_DATA", raising=False)
    monkeypatch.delenv("MESH_DATA_DIR", raising=False)
    monkeypatch.chdir(project / "sub" / "deeper")
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--app", "local"])
    assert created.exit_code == 0, created.output
    assert (project / ".mesh" / "mesh.db").exists() and not (project / "sub" / "deeper" / ".mesh").exists()
    monkeypatch.chdir(project)
    listed = runner.invoke(cli, ["keys", "list"])
    assert "local" in listed.output and "active" in listed.output
    elsewhere = tmp_path / "other-data"
    assert "(none)" in runner.invoke(cli, ["keys", "list", "--data", str(elsewhere)]).output
    monkeypatch.setenv("MESH_DATA", str(elsewhere))
    assert "(none)" in runner.invoke(cli, ["keys", "list"]).output


def _mesh(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    mesh = Path(sys.executable).parent / "mesh"
    return subprocess.run([str(mesh), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def test_a_busy_port_is_reported_before_any_banner(tmp_path):
    project = _project(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _mesh("serve", "--port", str(port), cwd=project)
    assert result.returncode == 1
    assert result.stdout == ""  # no banner, no key for a server that never ran
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_doctor_says_what_to_fix(tmp_path, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    monkeypatch.delenv("MESH_TEST_MISSING_KEY", raising=False)
    runner = CliRunner()
    first = runner.invoke(cli, ["doctor", "--url", "http://127.0.0.1:9", "--timeout", "0.5"])
    assert first.exit_code == 0, first.output  # warnings only
    assert f"ok    config {project / 'mesh.yaml'}" in first.output
    assert "$MESH_TEST_MISSING_KEY is not set" in first.output and "fix: export MESH_TEST_MISSING_KEY=" in first.output
    assert "no store yet" in first.output and "no mesh is listening on http://127.0.0.1:9" in first.output
    runner.invoke(cli, ["keys", "create", "--app", "local"])
    assert "app 'local': 1 active key(s)" in runner.invoke(cli, ["doctor", "--url", "http://127.0.0.1:9"]).output
    (project / "mesh.yaml").write_text("routes:\n  r: {provider: nowhere, model: m}\n")
    broken = runner.invoke(cli, ["doctor", "--url", "http://127.0.0.1:9"])
    assert broken.exit_code == 1
    assert "routes.r.targets.0.provider: unknown provider 'nowhere'" in broken.output and "1 problem(s) to fix" in broken.output


def test_echo_shows_stream_options_and_attempts_count_alike_for_chat_and_embeddings(monkeypatch):
    monkeypatch.delenv("MESH_TEST_MISSING_KEY", raising=False)
    with serve_mesh(CONFIG) as mesh:
        client = openai.OpenAI(base_url=mesh.base_url, api_key=mesh.api_key)
        chunks = list(client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "hi"}], stream=True))
        upstream = json.loads("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
        assert upstream["stream"] is True and upstream["stream_options"] == {"include_usage": True}
        headers = {"Authorization": f"Bearer {mesh.api_key}"}
        chat = httpx.post(mesh.base_url + "/chat/completions", headers=headers,
                          json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
        embed = httpx.post(mesh.base_url + "/embeddings", headers=headers, json={"model": "embed", "input": "hi"})
    assert chat.status_code == embed.status_code == 200
    assert chat.headers["x-mesh-attempts"] == embed.headers["x-mesh-attempts"] == "2"
    assert chat.headers["x-mesh-fallback-reason"].startswith("paid:") and embed.headers["x-mesh-fallback-reason"].startswith("paid:")
