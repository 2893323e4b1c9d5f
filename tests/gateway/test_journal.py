"""The crash journal behind the background writers: a process that dies with records
queued leaves them in its segments, and the next writer over the same directory claims
and re-queues them exactly once; a live owner's segments are never claimed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from llm_mesh.gateway.background import BackgroundBatches
from llm_mesh.gateway.journal import Journal, dataclass_codec
from llm_mesh.stores.interfaces import RequestLogEntry

CODEC = dataclass_codec(RequestLogEntry)


def _entry(n: int) -> RequestLogEntry:
    return RequestLogEntry(request_id=f"req_{n}", timestamp=1.0 + n, app="a", route="r", provider="p", model="m",
                           endpoint="chat.completions", status=200, stream=False, latency_ms=1.5, upstream_ms=1.0,
                           overhead_ms=0.5, tags={"k": "v"})


def _die_with_queued_records(directory, count: int) -> None:
    """Another process journals ``count`` entries through a writer that never drains, then dies."""
    script = textwrap.dedent(f"""
        import os
        from llm_mesh.gateway.background import BackgroundBatches
        from llm_mesh.gateway.journal import Journal, dataclass_codec
        from llm_mesh.stores.interfaces import RequestLogEntry
        from tests.gateway.test_journal import _entry
        batches = BackgroundBatches(lambda batch: None, name="t", batch_size=10, interval=3600,
                                    journal=Journal({str(directory)!r}, "request-log", dataclass_codec(RequestLogEntry)))
        for n in range({count}):
            batches.put(_entry(n))
        os._exit(0)  # no drain, no close: as good as SIGKILL for the journal
    """)
    subprocess.run([sys.executable, "-c", script], check=True)


def test_a_dead_writers_records_are_recovered_once(tmp_path):
    _die_with_queued_records(tmp_path, 5)
    handled: list[RequestLogEntry] = []
    batches = BackgroundBatches(handled.extend, name="t", batch_size=10, interval=0.01,
                                journal=Journal(tmp_path, "request-log", CODEC))
    batches.flush()
    assert [e.request_id for e in handled] == [f"req_{n}" for n in range(5)]
    assert handled[0] == _entry(0)  # every field, tags included, survives the round trip
    batches.close()
    batches.close_journal()
    again: list[RequestLogEntry] = []
    second = BackgroundBatches(again.extend, name="t", batch_size=10, interval=0.01,
                               journal=Journal(tmp_path, "request-log", CODEC))
    second.flush()
    second.close()
    second.close_journal()
    assert again == []
    assert list(tmp_path.glob("*.jsonl")) == []


def test_a_live_owners_segments_are_left_alone(tmp_path):
    live = Journal(tmp_path, "request-log", CODEC)
    live.append(_entry(1))
    other = Journal(tmp_path, "request-log", CODEC)
    assert other.recover() == []
    assert len(list(tmp_path.glob("*.jsonl"))) == 2  # each holds its own segment
    live.close()
    other.close()


def test_items_the_handler_could_not_write_stay_journaled(tmp_path):
    written: list[str] = []
    failing = {"req_2"}

    def handle(batch):
        written.extend(e.request_id for e in batch if e.request_id not in failing)
        return [e for e in batch if e.request_id in failing]

    batches = BackgroundBatches(handle, name="t", batch_size=10, interval=0.01,
                                journal=Journal(tmp_path, "request-log", CODEC))
    for n in range(4):
        batches.put(_entry(n))
    batches.flush()
    lines = b"".join(p.read_bytes() for p in tmp_path.glob("*.jsonl")).splitlines()
    assert written == ["req_0", "req_1", "req_3"]
    assert len(lines) == 1 and b"req_2" in lines[0]
    batches.close()
