"""Audit writers that never drop a record.

An append that fails (a store error, or ``AuditAppendFailed`` after losing every seq
race) is counted in ``stats.failed`` and the draft is kept in ``pending``; the next
write or flush retries it first. What is still pending at close is spilled to a JSON
lines file (``audit-spill-<pid>-<id>.jsonl`` in the spill directory), and a writer
that starts over the same directory claims and re-appends every spill file it finds.
Each failure is also reported to ``on_failure`` (a metric on AWS, see ``emf_failure_metric``).
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_mesh.audit.anchors import Anchorer
from llm_mesh.gateway.background import BackgroundBatches
from llm_mesh.gateway.journal import Journal, dataclass_codec
from llm_mesh.stores.interfaces import AuditDraft, AuditRecord, AuditStore

logger = logging.getLogger("llm_mesh.audit")

SPILL_GLOB = "audit-spill-*.jsonl"


@dataclass
class AuditWriteStats:
    appended: int = 0
    failed: int = 0  # append attempts that raised (each is retried, never dropped)
    spilled: int = 0  # drafts written to a spill file at close
    recovered: int = 0  # drafts re-read from spill files


def emf_failure_metric(count: int) -> None:
    """One CloudWatch Embedded Metric Format line: ``LLMMesh/AuditAppendFailures``."""
    doc = {
        "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [
            {"Namespace": "LLMMesh", "Dimensions": [["service"]], "Metrics": [{"Name": "AuditAppendFailures", "Unit": "Count"}]}
        ]},
        "service": "llm-mesh",
        "AuditAppendFailures": count,
    }
    sys.stdout.write(json.dumps(doc) + "\n")


class AuditAppender:
    """Appends drafts in order, keeps the ones that failed, anchors what was written."""

    def __init__(
        self,
        store: AuditStore,
        anchorer: Anchorer | None = None,
        spill_dir: str | Path | None = None,
        on_failure: Callable[[int], None] | None = None,
    ) -> None:
        self.store, self.anchorer, self.on_failure = store, anchorer, on_failure
        self.spill_dir = Path(spill_dir) if spill_dir is not None else None
        self.stats = AuditWriteStats()
        self.pending: collections.deque[AuditDraft] = collections.deque()
        self._lock = threading.Lock()
        self._recover_spills()

    @property
    def failures(self) -> int:
        return self.stats.failed

    def append(self, drafts: list[AuditDraft]) -> None:
        """Append the pending drafts, then ``drafts``; whatever fails stays pending."""
        with self._lock:
            batch = [*self.pending, *drafts]
            self.pending.clear()
            written = self._append_batch(batch)
        if written and self.anchorer is not None:
            self.anchorer.note(written)

    def _append_batch(self, batch: list[AuditDraft]) -> list[AuditRecord]:
        many = getattr(self.store, "append_many", None)
        if many is not None and len(batch) > 1:
            try:
                written = many(batch)
                self.stats.appended += len(written)
                return written
            except Exception:  # fall back to one at a time: only the bad ones stay pending
                logger.warning("audit batch append failed; retrying one by one", exc_info=True)
        written = []
        for i, draft in enumerate(batch):
            try:
                written.append(self.store.append(draft))
                self.stats.appended += 1
            except ValueError:  # an invalid draft can never be written: say so loudly, keep it
                self._failed(draft, keep=True)
            except Exception:
                self._failed(draft, keep=True)
                self.pending.extend(batch[i + 1:])  # keep order; retry next time
                break
        return written

    def _failed(self, draft: AuditDraft, keep: bool) -> None:
        self.stats.failed += 1
        logger.error("audit append failed for %s (kept, %d pending)", draft.record_id, len(self.pending) + 1,
                     exc_info=True)
        if keep:
            self.pending.append(draft)
        if self.on_failure is not None:
            self.on_failure(1)

    def flush(self) -> None:
        if self.pending:
            self.append([])
        if self.anchorer is not None:
            self.anchorer.flush()

    def close(self) -> None:
        self.flush()
        with self._lock:
            if not self.pending:
                return
            if self.spill_dir is None:
                logger.critical("%d audit record(s) could not be written and have no spill directory", len(self.pending))
                return
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            path = self.spill_dir / f"audit-spill-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
            with open(path, "w") as handle:
                handle.writelines(json.dumps(dataclasses.asdict(draft), sort_keys=True) + "\n" for draft in self.pending)
            self.stats.spilled += len(self.pending)
            logger.error("%d audit record(s) spilled to %s; the next writer re-appends them", len(self.pending), path)
            self.pending.clear()

    def _recover_spills(self) -> None:
        if self.spill_dir is None or not self.spill_dir.is_dir():
            return
        for path in sorted(self.spill_dir.glob(SPILL_GLOB)):
            claimed = path.with_suffix(f".claimed-{os.getpid()}")
            try:
                os.rename(path, claimed)  # atomic: one writer claims each file
            except OSError:
                continue
            for line in claimed.read_text().splitlines():
                if line.strip():
                    self.pending.append(AuditDraft(**json.loads(line)))
                    self.stats.recovered += 1
            claimed.unlink()


class InlineAuditWriter:
    """The Lambda writer: appends before the invocation ends (a frozen process cannot flush)."""

    deferred = False  # write() appends to the store before it returns

    def __init__(self, store: AuditStore, anchorer: Anchorer | None = None, **options: Any) -> None:
        self.store = store
        self.appender = AuditAppender(store, anchorer, **options)

    @property
    def failures(self) -> int:
        return self.appender.failures

    @property
    def stats(self) -> AuditWriteStats:
        return self.appender.stats

    def write(self, draft: AuditDraft) -> None:
        self.appender.append([draft])

    def flush(self) -> None:
        self.appender.flush()

    def close(self) -> None:
        self.appender.close()


class BackgroundAuditWriter(InlineAuditWriter):
    """One daemon thread appends drafts in arrival order, one SQLite transaction per batch;
    the request path only queues them (see gateway.background)."""

    deferred = True  # write() only journals and queues

    def __init__(self, store: AuditStore, anchorer: Anchorer | None = None, interval: float = 0.02,
                 journal_dir: str | Path | None = None, **options: Any) -> None:
        super().__init__(store, anchorer, **options)
        journal = Journal(journal_dir, "audit", dataclass_codec(AuditDraft)) if journal_dir else None
        self._batches: BackgroundBatches[AuditDraft] = BackgroundBatches(
            self._append, name="mesh-audit", batch_size=100, interval=interval, journal=journal,
            keep_recovered=self._not_yet_in_the_chain,
        )
        atexit.register(self.close)

    def _append(self, drafts: list[AuditDraft]) -> list[AuditDraft]:
        """Append; the drafts still pending (kept for retry) stay journaled."""
        self.appender.append(drafts)
        return list(self.appender.pending)

    def _not_yet_in_the_chain(self, drafts: list[AuditDraft]) -> list[AuditDraft]:
        """A dead process's journal may hold drafts its last batch did append: skip those."""
        present: dict[str, set[str]] = {}
        for partition in {d.partition for d in drafts}:
            present[partition] = {r.record_id for r in self.store.partition_records(partition)}
        return [d for d in drafts if d.record_id not in present[d.partition]]

    def write(self, draft: AuditDraft) -> None:
        self._batches.put(draft)

    def flush(self, timeout: float = 10.0) -> None:
        self._batches.flush(timeout)
        self.appender.flush()

    def close(self) -> None:
        self._batches.close()
        self.appender.close()  # spills what it could not write
        self._batches.close_journal()
