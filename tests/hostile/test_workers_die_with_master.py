"""``mesh serve --workers 2`` whose master is killed with SIGKILL: its workers stop serving and free
the port, so the same command starts again on the same port (it used to fail with "Address already
in use" while orphaned workers kept answering)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx

from tests.hostile.served import BOUND, free_port, make_key, nobody_listens, serve, write_config

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "apps": {"w": {"routes": "*"}},
}


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(c) for c in (task / "children").read_text().split()}
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except FileNotFoundError:
        return False
    return "Z" not in state.split()[1]


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {BOUND} s")
        time.sleep(0.1)  # polling a condition, bounded above


def test_sigkill_of_the_master_stops_its_workers_and_the_port_can_be_used_again(tmp_path):
    config, data, port = write_config(tmp_path, CONFIG), tmp_path / "data", free_port()
    key = make_key(config, data, "w")
    first = serve(config, data, port, key, "--workers", "2")
    session = os.getpgid(first.process.pid)
    try:
        _wait_for(lambda: len(_children(first.process.pid)) >= 2, "the master did not start 2 workers")
        workers = _children(first.process.pid)
        first.kill(signal.SIGKILL)
        _wait_for(lambda: not any(_running(w) for w in workers), "the orphaned workers did not exit")
        _wait_for(lambda: nobody_listens(port), "the port was not freed")
        second = serve(config, data, port, key)
        try:
            answer = httpx.post(second.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                                json={"model": "echo", "messages": [{"role": "user", "content": "again"}]}, timeout=BOUND)
            assert answer.status_code == 200, answer.text
        finally:
            second.stop()
    finally:
        try:
            os.killpg(session, signal.SIGKILL)  # only this test's own session: nothing survives a failure
        except ProcessLookupError:
            pass
