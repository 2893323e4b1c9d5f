"""How long a budget reservation waits while a background writer commits to the same SQLite file.

One thread appends 20 request-log rows every 5 ms (what the background writers do under
load); the main thread makes 3000 budget reservations 0.5 ms apart and reports their
latency. Before the per-process write lock a reservation that met a commit slept in
SQLite's busy handler (1 ms, then 2, 5...); now it waits for the commit itself.

    PYTHONPATH=src .venv/bin/python bench/sqlite_write_wait.py
"""

from __future__ import annotations

import tempfile
import threading
import time

from llm_mesh.stores.interfaces import RequestLogEntry
from llm_mesh.stores.sqlite import open_sqlite_stores


def main(calls: int = 3000) -> None:
    stores = open_sqlite_stores(tempfile.mkdtemp(prefix="mesh-wait-") + "/mesh.db")
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            stores.request_log.append_many([RequestLogEntry(
                request_id=f"r{i}-{k}", timestamp=time.time(), app="a", route="r", provider="p", model="m",
                endpoint="chat.completions", status=200, stream=False, latency_ms=1, upstream_ms=1, overhead_ms=0,
            ) for k in range(20)])
            i += 1
            time.sleep(0.005)

    thread = threading.Thread(target=writer)
    thread.start()
    waits = []
    for _ in range(calls):
        started = time.perf_counter()
        stores.budgets.reserve("bench#a#2026-01", 1, 10**15, time.time() + 3600)
        waits.append((time.perf_counter() - started) * 1000)
        time.sleep(0.0005)
    stop.set()
    thread.join()
    stores.close()
    waits.sort()
    at = lambda p: waits[min(len(waits) - 1, int(p / 100 * len(waits)))]  # noqa: E731
    print(f"budget reserve next to a committing writer, {calls} calls: p50 {at(50):.3f} ms, p95 {at(95):.3f} ms, "
          f"p99 {at(99):.3f} ms, max {waits[-1]:.3f} ms; {sum(w > 0.9 for w in waits)} waited over 0.9 ms")


if __name__ == "__main__":
    main()
