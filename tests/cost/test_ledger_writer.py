"""The ledger written behind the request path: reads see every record, a failed write is
retried, and what could not be written by close is replayed by the next writer."""

from __future__ import annotations

import os
import time

from llm_mesh.cost.ledger_writer import BackgroundLedger
from llm_mesh.stores.interfaces import CostRecord
from llm_mesh.stores.sqlite import open_sqlite_stores


class _Flaky:
    """The real SQLite ledger, failing its next ``failures`` writes."""

    def __init__(self, store, failures: int) -> None:
        self.store, self.failures = store, failures

    def record(self, record: CostRecord) -> bool:
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk I/O error")
        return self.store.record(record)

    def records(self, *args, **kwargs):
        return self.store.records(*args, **kwargs)

    def aggregates(self, *args, **kwargs):
        return self.store.aggregates(*args, **kwargs)


def _record(i: int) -> CostRecord:
    return CostRecord(request_id=f"req_{i}", timestamp=time.time(), app="bot", route="chat", provider="p",
                      model="m", cost_usd="0.000001000", tags={"team": "a"})


def test_reads_see_every_record_and_a_failed_write_is_retried(tmp_path):
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    ledger = BackgroundLedger(_Flaky(stores.ledger, failures=1), journal_dir=tmp_path / "journal", interval=0.01)
    for i in range(20):
        assert ledger.record(_record(i)) is True
    ids = {r.request_id for r in ledger.records(0, time.time() + 10)}
    assert ids == {f"req_{i}" for i in range(20)}
    day = time.strftime("%Y-%m-%d", time.gmtime())
    assert sum(a.requests for a in ledger.aggregates(day, day)) == 20
    ledger.close()
    assert list((tmp_path / "journal").glob("ledger-*")) == []  # a clean stop leaves nothing to replay
    stores.close()


def test_records_unwritten_at_close_are_replayed_by_the_next_writer(tmp_path):
    stores = open_sqlite_stores(tmp_path / "mesh.db")
    broken = _Flaky(stores.ledger, failures=10**9)
    ledger = BackgroundLedger(broken, journal_dir=tmp_path / "journal", interval=0.01)
    for i in range(5):
        ledger.record(_record(i))
    ledger.close()  # nothing could be written: the records stay journaled
    assert stores.ledger.records(0, time.time() + 10) == []
    os.close(ledger._batches._journal._lock_fd)  # noqa: SLF001 - its process "dies": the lock goes, the segments stay

    again = BackgroundLedger(stores.ledger, journal_dir=tmp_path / "journal", interval=0.01)
    assert {r.request_id for r in again.records(0, time.time() + 10)} == {f"req_{i}" for i in range(5)}
    again.close()
    stores.close()
