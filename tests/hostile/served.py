"""``mesh serve`` as a user runs it: a child process on a free loopback port, a config file, a data
directory and an API key made with ``mesh keys create``. Waits are on conditions (the port
answering /health, the process exiting), each with a generous bound."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from llm_mesh.cli.main import cli; cli()"]
BOUND = 60.0  # seconds: the upper bound of every wait, never an expectation


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def make_key(config: Path, data: Path, app: str) -> str:
    done = subprocess.run([*CLI, "keys", "create", "--app", app, "--config", str(config), "--data", str(data)],
                          env=_env(), capture_output=True, text=True, timeout=BOUND, check=True)
    return re.search(r"mesh-[A-Za-z0-9_-]{20,}", done.stdout).group(0)


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    key: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.process.send_signal(sig)
        self.process.wait(timeout=BOUND)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=BOUND)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=BOUND)


def write_config(directory: Path, config: dict[str, Any]) -> Path:
    path = directory / "mesh.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def serve(config: Path, data: Path, port: int, key: str, *extra: str) -> Served:
    process = subprocess.Popen([*CLI, "serve", "--config", str(config), "--data", str(data), "--port", str(port), *extra],
                               env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    served = Served(process, port, key)
    wait_until_healthy(served)
    return served


def wait_until_healthy(served: Served) -> None:
    deadline = time.monotonic() + BOUND
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise AssertionError("mesh serve exited: " + served.process.stderr.read().decode()[-2000:])
        try:
            if httpx.get(served.url + "/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a condition, bounded above
    raise AssertionError(f"mesh serve did not answer /health within {BOUND} s")


def nobody_listens(port: int) -> bool:
    """Nothing accepts connections on the port and a server could bind it again."""
    with socket.socket() as probe:
        probe.settimeout(5)
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as mesh serve binds
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
