"""SIGKILL mid-load loses no record a response depended on (SQLite home).

`mesh serve` runs as its own process in front of the fake upstream, with the cost ledger
(a hard budget) and the audit trail on. Clients send requests; once some have been
answered the server is killed with SIGKILL, restarted on the same data directory and
stopped cleanly. Every request a client saw answered (its ``x-mesh-request-id``) must then
have a request-log record, a ledger record and an audit record, the audit chain must
verify, and no budget hold may outlive its expiry.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fakes.openai_upstream import start_fake_openai

MESH = [sys.executable, "-c", "from llm_mesh.cli.main import cli; cli()"]


def _config(upstream: str) -> dict:
    return {
        "providers": {"fake": {"kind": "openai", "base_url": upstream, "api_key": {"env": "FAKE_KEY"}}},
        "models": {"chat": {"provider": "fake", "model": "gpt-4o-mini", "prices": {"input": "0.10", "output": "0.10"}}},
        "routes": {"chat": {"provider": "fake", "model": "gpt-4o-mini"}},
        "apps": {"crash": {"routes": "*"}},
        "costs": {"budgets": [{"name": "crash-hard", "scope": "app", "match": "crash", "limit_usd": "100",
                               "mode": "hard"}]},
    }


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(config_file: Path, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("ab")
    proc = subprocess.Popen([*MESH, "serve", "--config", str(config_file), "--port", str(port)], env=env,
                            stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=config_file.parent)
    handle.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail("mesh serve did not become healthy:\n" + log.read_text()[-3000:])


def _load_until_killed(url: str, key: str, proc: subprocess.Popen, kill_after: int) -> set[str]:
    """Four client threads send requests; after ``kill_after`` answers the server is SIGKILLed."""
    answered: set[str] = set()
    lock = threading.Lock()
    killed = threading.Event()

    def client(n: int) -> None:
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {key}"}) as http:
            i = 0
            while not killed.is_set():
                i += 1
                try:
                    stream = i % 2 == 0
                    response = http.post(url, json={"model": "chat", "stream": stream, "max_tokens": 8,
                                                    "messages": [{"role": "user", "content": f"client {n} call {i}"}]})
                    body = response.read()
                except httpx.HTTPError:
                    continue
                if response.status_code == 200 and (not stream or b"[DONE]" in body):
                    with lock:
                        answered.add(response.headers["x-mesh-request-id"])
                        if len(answered) >= kill_after and not killed.is_set():
                            proc.send_signal(signal.SIGKILL)
                            killed.set()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    proc.wait(timeout=30)
    return answered


def test_sigkill_mid_load_loses_no_answered_record(tmp_path):
    with start_fake_openai() as fake:
        config_file = tmp_path / "mesh.yaml"
        config_file.write_text(yaml.safe_dump(_config(fake.base_url)))
        env = {**os.environ, "FAKE_KEY": "k"}
        env.pop("MESH_DATA", None)
        key = subprocess.run([*MESH, "keys", "create", "--app", "crash", "--config", str(config_file)], env=env,
                             capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1].strip()
        port = _free_port()
        log = tmp_path / "serve.log"
        proc = _serve(config_file, port, env, log)
        answered = _load_until_killed(f"http://127.0.0.1:{port}/v1/chat/completions", key, proc, kill_after=150)
        assert proc.returncode == -signal.SIGKILL

        restarted = _serve(config_file, port, env, log)  # recovery runs as the stores open
        restarted.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM is a clean stop
        assert restarted.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()[-3000:]

    db = tmp_path / ".mesh" / "mesh.db"
    with sqlite3.connect(db) as conn:
        logged = {row[0] for row in conn.execute("SELECT request_id FROM request_log")}
        billed = {row[0] for row in conn.execute("SELECT request_id FROM cost_records")}
        audited = {row[0] for row in conn.execute("SELECT record_id FROM audit_log")}
        duplicated = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT record_id) FROM audit_log").fetchone()[0]
    assert len(answered) >= 150
    lost = {"request log": len(answered - logged), "ledger": len(answered - billed), "audit": len(answered - audited)}
    assert lost == {"request log": 0, "ledger": 0, "audit": 0}, f"of {len(answered)} answered, lost: {lost}"
    assert answered - logged == set(), f"{len(answered - logged)} of {len(answered)} answered requests not logged"
    assert answered - billed == set(), f"{len(answered - billed)} of {len(answered)} answered requests not billed"
    assert answered - audited == set(), f"{len(answered - audited)} of {len(answered)} answered requests not audited"
    assert duplicated == 0

    verify = subprocess.run([*MESH, "audit", "verify", "--data", str(tmp_path / ".mesh")], env=env,
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
