"""Stores that wait on a network (``blocking_io``) are called off the event loop.

A wrapper bundle over SQLite declares ``blocking_io = True`` and notes, for each store call on the
request path (key lookup, budget reservation and settlement, cache read and write, ledger record),
whether it ran on a thread with a running event loop. Through the real HTTP API, streamed and not,
none does; with the flag off they run inline, as they should. SQLite itself blocks only on writes:
its key lookup runs inline, its budget reservation off the loop.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from llm_mesh.gateway.offload import blocking_io, off_loop
from llm_mesh.stores.sqlite import open_sqlite_stores
from tests.harness import serve_mesh

WATCHED = {"keys": ("get_by_hash",), "budgets": ("reserve", "settle"), "cache": ("get", "put"), "ledger": ("record",)}


def _on_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Watched:
    def __init__(self, inner: Any, name: str, methods: tuple[str, ...], calls: list[tuple[str, bool]]) -> None:
        self._inner, self._name, self._methods, self._calls = inner, name, methods, calls

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if attr not in self._methods:
            return value

        def watched(*args: Any, **kwargs: Any) -> Any:
            self._calls.append((f"{self._name}.{attr}", _on_loop()))
            return value(*args, **kwargs)

        return watched


class _Bundle:
    def __init__(self, inner: Any, blocking: bool, calls: list[tuple[str, bool]]) -> None:
        self._inner = inner
        self.blocking_io = blocking
        self.blocking_reads = blocking  # a networked store: its reads wait too
        for name, methods in WATCHED.items():
            setattr(self, name, _Watched(getattr(inner, name), name, methods, calls))

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "costs": {"prices": {"echo": {"echo-1": {"input": "0.50", "output": "1.50"}}},
              "cache": {"ttl_seconds": 60, "default": {"temperature_any": True}},
              "budgets": [{"name": "daily", "scope": "global", "period": "day", "limit_usd": "10", "mode": "hard"}]},
}


@pytest.mark.parametrize("blocking", [True, False])
def test_store_calls_run_off_the_loop_when_the_stores_block(blocking: bool) -> None:
    calls: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        inner = open_sqlite_stores(Path(tmp) / "mesh.db")
        try:
            with serve_mesh(CONFIG, stores=_Bundle(inner, blocking, calls)) as mesh:
                headers = {"Authorization": f"Bearer {mesh.api_key}"}
                with httpx.Client(base_url=mesh.root_url, headers=headers, timeout=30) as client:
                    for stream in (False, True):
                        body = {"model": "echo", "messages": [{"role": "user", "content": f"hi {stream}"}], "stream": stream}
                        answer = client.post("/v1/chat/completions", json=body)
                        assert answer.status_code == 200, answer.text
        finally:
            inner.close()
    seen = {name for name, _ in calls}
    assert {"keys.get_by_hash", "budgets.reserve", "budgets.settle", "cache.get", "ledger.record"} <= seen, seen
    on_loop = sorted({name for name, loop in calls if loop})
    if blocking:
        assert on_loop == [], f"blocking store calls ran on the event loop: {on_loop}"
    else:
        assert "budgets.reserve" in on_loop  # SQLite answers inline: no thread hop


def test_sqlite_reads_run_inline_and_its_writes_off_the_loop() -> None:
    """SQLite in WAL mode: a reader never waits on a writer, a writer can wait on a lock."""
    calls: list[tuple[str, bool]] = []
    with tempfile.TemporaryDirectory() as tmp:
        inner = open_sqlite_stores(Path(tmp) / "mesh.db")
        try:
            bundle = _Bundle(inner, True, calls)
            bundle.blocking_reads = inner.blocking_reads
            with serve_mesh(CONFIG, stores=bundle) as mesh:
                headers = {"Authorization": f"Bearer {mesh.api_key}"}
                with httpx.Client(base_url=mesh.root_url, headers=headers, timeout=30) as client:
                    body = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
                    answer = client.post("/v1/chat/completions", json=body)
                    assert answer.status_code == 200, answer.text
        finally:
            inner.close()
    where = dict(calls)
    assert where["keys.get_by_hash"] is True, calls
    assert where["budgets.reserve"] is False, calls


def test_off_loop_runs_in_a_worker_thread_only_when_blocking() -> None:
    async def main() -> tuple[bool, bool]:
        return await off_loop(True, _on_loop), await off_loop(False, _on_loop)

    assert asyncio.run(main()) == (False, True)
    assert blocking_io(object()) is False
