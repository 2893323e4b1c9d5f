"""Verifying every chain an AuditStore holds (what ``mesh audit verify`` runs).

Each partition ends up ``intact`` (every record keyed, verified, linked and matching every
anchor), ``unkeyed`` (links and plain sha256 hashes hold, but the chain predates keying, so
anyone could have re-sealed it) or ``broken`` at the first seq where something fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Sequence

from llm_mesh.audit.chain import Anchor, Problem, is_unkeyed, verify_chain
from llm_mesh.audit.keys import ChainKey, ChainKeyring
from llm_mesh.stores.interfaces import AuditStore

INTACT = "intact"
UNKEYED = "unkeyed"
BROKEN = "broken"


@dataclass(frozen=True)
class PartitionStatus:
    partition: str
    records: int
    status: str  # INTACT, UNKEYED or BROKEN
    broken_at: int | None = None  # the first seq with a problem

    def line(self) -> str:
        where = f" at sequence {self.broken_at}" if self.broken_at is not None else ""
        return f"{self.partition}: {self.status}{where} ({self.records} record(s))"


@dataclass(frozen=True)
class VerifyReport:
    partitions_checked: int
    records_checked: int
    problems: list[Problem] = field(default_factory=list)
    statuses: list[PartitionStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No record changed, removed or reordered (unkeyed legacy chains count as ok here)."""
        return not self.problems

    @property
    def status(self) -> str:
        if self.problems:
            return BROKEN
        return UNKEYED if any(s.status == UNKEYED for s in self.statuses) else INTACT

    def summary(self) -> str:
        head = f"{self.records_checked} record(s) in {self.partitions_checked} partition(s)"
        lines = [f"{head}: chain intact" if self.status == INTACT else f"{head}: {self.status}"]
        lines += [f"  {s.line()}" for s in self.statuses if s.status != INTACT]
        lines += [f"  {p.partition} seq {p.seq}: {p.kind}: {p.detail}" for p in self.problems]
        return "\n".join(lines)


def _anchors_by_partition(*sources: Mapping[str, Anchor | Sequence[Anchor]] | None) -> dict[str, list[Anchor]]:
    merged: dict[str, list[Anchor]] = {}
    for source in sources:
        for partition, value in (source or {}).items():
            items = [value] if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], int) else value
            merged.setdefault(partition, []).extend((int(seq), str(h)) for seq, h in items)
    return merged


def verify_store(
    store: AuditStore,
    partitions: Iterable[str] | None = None,
    anchors: Mapping[str, Anchor | Sequence[Anchor]] | None = None,
    keyring: ChainKeyring | ChainKey | None = None,
    anchor_sink: object | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> VerifyReport:
    """Check the chain of every partition (or only ``partitions``). ``anchors`` maps a partition
    to (seq, hash) heads kept outside the store, ``anchor_sink`` adds every anchor the writers
    put there: without one, removing the most recent records of a partition cannot be seen. A
    partition named in the anchors but absent from the store is reported as truncated.
    ``keyring`` defaults to the store's own key. ``progress(done, total, partition)`` is
    called after each partition."""
    if keyring is None:
        keyring = getattr(store, "key", None)
    kept = _anchors_by_partition(anchors, anchor_sink.anchors() if anchor_sink is not None else None)
    names = list(partitions) if partitions is not None else store.partitions()
    names += [p for p in sorted(kept) if p not in names and partitions is None]
    problems: list[Problem] = []
    statuses: list[PartitionStatus] = []
    records_checked = 0
    for partition in names:
        records = store.partition_records(partition)
        records_checked += len(records)
        found = verify_chain(records, partition=partition, anchor=kept.get(partition), keyring=keyring)
        problems.extend(found)
        if found:
            status = PartitionStatus(partition, len(records), BROKEN, min(p.seq for p in found))
        else:
            status = PartitionStatus(partition, len(records), UNKEYED if is_unkeyed(records) else INTACT)
        statuses.append(status)
        if progress is not None:
            progress(len(statuses), len(names), f"{partition} ({records_checked} records)")
    return VerifyReport(len(names), records_checked, problems, statuses)
