"""A new user's first run: `mesh serve` on the shipped mesh.yaml, then exactly the commands
its banner prints, in a shell whose PATH is set only by the banner's export line. All offline,
on the echo provider: chat, redaction, SSN block, injection screening, cost, cache, budget,
knowledge-base search and answer, catalogue prompt, experiment report, agent run."""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def banner(tmp_path_factory):
    data = tmp_path_factory.mktemp("first-run") / "data"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(data.parent), "PYTHONPATH": str(ROOT / "src")}
    mesh = Path(sys.executable).parent / "mesh"
    proc = subprocess.Popen([str(mesh), "serve", "--config", str(ROOT / "mesh.yaml"), "--data", str(data), "--port", "0"],
                            cwd=data.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        while not lines or "/console" not in lines[-1]:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError("mesh serve exited before its banner ended: " + proc.stderr.read())
            lines.append(line.rstrip("\n"))
        yield lines, env
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _commands(lines: list[str]) -> dict[str, str]:
    """Comment line -> the command line after it."""
    out = {}
    for index, line in enumerate(lines[:-1]):
        if line.startswith("  # "):
            out[line[4:]] = lines[index + 1].strip()
    return out


def _run(command: str, export: str, env: dict[str, str]) -> str:
    result = subprocess.run(["bash", "-c", f"{export}\n{command}"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


def test_the_banner_commands_show_every_capability_offline(banner):
    lines, env = banner
    text = "\n".join(lines)
    assert "first run: knowledge base 'mesh-docs': ingested 4 documents" in text
    export = next(line.strip() for line in lines if line.strip().startswith("export PATH="))
    assert "MESH_KEY=mesh-" in export and f"MESH_CONFIG={ROOT / 'mesh.yaml'}" in export
    commands = _commands(lines)
    run = {what: command for what, command in commands.items() if not command.startswith("http")}
    expected = {
        "chat": '\\"model\\":\\"echo-1\\"',
        "redaction: what": "I am [EMAIL_1], card [CREDIT_CARD_1].",
        "redaction in a chat": "x-mesh-policy: CREDIT_CARD=1,EMAIL=1",
        "a US SSN is blocked": "-> HTTP 400",
        "prompt-injection": "prompt_injection",
        "cost and cache": "x-mesh-cost-usd: 0.0000",
        "the cost ledger": "echo-1",
        "budget burn": "platform-monthly",
        "search the knowledge base": "Routing and failover",
        "a chat answered from it": "x-mesh-sources: ",
        "the catalogue prompt": "LLM Mesh",
        "the experiment": "formal",
        "the agent": "Ann Lee",
    }
    with ThreadPoolExecutor(4) as pool:  # independent commands; the CLI ones each start a Python
        outputs = dict(zip(run, pool.map(lambda command: _run(command, export, env), run.values())))
    for prefix, needle in expected.items():
        what = next((w for w in outputs if w.startswith(prefix)), None)
        assert what is not None, f"the banner has no {prefix!r} command: {list(outputs)}"
        assert needle in outputs[what], (what, run[what], outputs[what])
    cost_and_cache = next(c for w, c in run.items() if w.startswith("cost and cache"))
    assert "x-mesh-cache: hit" in _run(cost_and_cache, export, env)  # "run twice": the second is a cache hit
    agent = next(o for w, o in outputs.items() if w.startswith("the agent"))
    assert "tool shop-db: ok" in agent and "status: succeeded" in agent
    console = next(c for w, c in commands.items() if w.startswith("the console"))
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/console", console)

