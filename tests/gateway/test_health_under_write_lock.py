"""``/health`` answers while another process holds SQLite's write lock and a budgeted chat
request is waiting for it: the wait happens off the event loop, so the loop stays free.

The lock is held by a second connection (as another ``mesh serve`` worker's transaction
would); the test releases it only after ``/health`` has answered, so a blocked loop shows up
as ``/health`` never answering while the lock is held (a client deadline, not a timing)."""

from __future__ import annotations

import sqlite3
import threading

import httpx

from tests.harness import serve_mesh

CONFIG = {
    "providers": {"echo": {"kind": "echo"}},
    "routes": {"echo": {"provider": "echo", "model": "echo-1"}},
    "costs": {"prices": {"echo": {"echo-1": {"input": "0.50", "output": "1.50"}}},
              "budgets": [{"name": "daily", "scope": "global", "period": "day", "limit_usd": "10", "mode": "hard"}]},
}


def test_health_answers_while_a_budgeted_request_waits_for_the_write_lock() -> None:
    with serve_mesh(CONFIG) as mesh:
        headers = {"Authorization": f"Bearer {mesh.api_key}"}
        holder = sqlite3.connect(mesh.data_dir / "mesh.db", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
        answers: dict[str, int] = {}
        started = threading.Event()

        def chat() -> None:
            with httpx.Client(base_url=mesh.root_url, headers=headers, timeout=30) as client:
                started.set()
                body = {"model": "echo", "messages": [{"role": "user", "content": "hello"}]}
                answers["chat"] = client.post("/v1/chat/completions", json=body).status_code

        waiting = threading.Thread(target=chat)
        waiting.start()
        started.wait()
        try:
            with httpx.Client(base_url=mesh.root_url, timeout=3) as client:
                # the chat is queued on the lock (or about to be); /health must still answer
                health = [client.get("/health").status_code for _ in range(5)]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        waiting.join(timeout=30)
        assert health == [200] * 5
        assert answers.get("chat") == 200
