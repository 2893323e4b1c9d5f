"""Verifying every chain an AuditStore holds (what ``mesh audit verify`` runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from llm_mesh.audit.chain import Problem, verify_chain
from llm_mesh.stores.interfaces import AuditStore


@dataclass(frozen=True)
class VerifyReport:
    partitions_checked: int
    records_checked: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = f"{self.records_checked} record(s) in {self.partitions_checked} partition(s)"
        if self.ok:
            return f"{head}: chain intact"
        lines = [f"{head}: {len(self.problems)} problem(s)"]
        lines += [f"  {p.partition} seq {p.seq}: {p.kind}: {p.detail}" for p in self.problems]
        return "\n".join(lines)


def verify_store(
    store: AuditStore,
    partitions: Iterable[str] | None = None,
    anchors: Mapping[str, tuple[int, str]] | None = None,
) -> VerifyReport:
    """Check the chain of every partition (or only ``partitions``). ``anchors`` maps a partition
    to a (seq, hash) head kept outside the store (e.g. from ``store.head()`` at an earlier run):
    without one, removing the most recent records of a partition cannot be seen. A partition
    named in ``anchors`` but absent from the store is reported as truncated."""
    anchors = dict(anchors or {})
    names = list(partitions) if partitions is not None else store.partitions()
    names += [p for p in sorted(anchors) if p not in names and partitions is None]
    problems: list[Problem] = []
    records_checked = 0
    for partition in names:
        records = store.partition_records(partition)
        records_checked += len(records)
        problems.extend(verify_chain(records, partition=partition, anchor=anchors.get(partition)))
    return VerifyReport(partitions_checked=len(names), records_checked=records_checked, problems=problems)
