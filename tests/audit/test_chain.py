"""Pure tests of the audit hash chain: canonical bytes, sealing, and what verify_chain detects."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from llm_mesh.audit import chain
from llm_mesh.audit.chain import (
    GENESIS_HASH,
    Problem,
    canonical_bytes,
    compute_hash,
    daily_partition,
    seal,
    verify_chain,
)
from llm_mesh.stores.interfaces import AuditDraft, AuditRecord

T0 = 1_700_000_000.25


def draft(i: int = 0, partition: str = "support#2023-11-14", **overrides) -> AuditDraft:
    fields = dict(
        partition=partition,
        record_id=f"req-{i:04d}",
        timestamp=T0 + i,
        app="support",
        principal="arn:aws:iam::123456789012:role/support-app",
        purpose="customer-support",
        route="support-chat",
        provider="openai",
        model="gpt-4o-mini",
        endpoint="chat.completions",
        status=200,
        decisions={"pii": {"EMAIL": 2, "PHONE": 1}, "action": "redact", "guardrails": [{"toxicity": "pass"}]},
        prompt_tokens=120 + i,
        completion_tokens=40,
        cost_usd="0.000042",
        latency_ms=812.5,
        config_version="cfg-7",
        payload=None,
    )
    fields.update(overrides)
    return AuditDraft(**fields)


def build(n: int, partition: str = "support#2023-11-14") -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for i in range(n):
        prev = records[-1].hash if records else GENESIS_HASH
        records.append(seal(draft(i, partition), len(records) + 1, prev))
    return records


def kinds(problems: list[Problem]) -> list[tuple[int, str]]:
    return [(p.seq, p.kind) for p in problems]


def test_seal_links_and_hashes():
    records = build(3)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[0].prev_hash == GENESIS_HASH == "0" * 64
    assert records[1].prev_hash == records[0].hash and records[2].prev_hash == records[1].hash
    for r in records:
        assert r.hash == hashlib.sha256(canonical_bytes(r)).hexdigest() == compute_hash(r)
        assert len(r.hash) == 64


def test_canonical_bytes_cover_every_field_but_hash():
    record = build(1)[0]
    body = json.loads(canonical_bytes(record))
    assert set(body) == {f.name for f in dataclasses.fields(AuditRecord)} - {"hash"}
    assert canonical_bytes(record) == json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    # The stored hash never feeds itself.
    assert compute_hash(dataclasses.replace(record, hash="f" * 64)) == record.hash
    for name, value in [
        ("app", "other"),
        ("seq", 2),
        ("prev_hash", "1" * 64),
        ("decisions", {"pii": {"EMAIL": 3}}),
        ("cost_usd", "0.000043"),
        ("timestamp", T0 + 0.001),
        ("payload", "ciphertext"),
        ("purpose", None),
    ]:
        assert compute_hash(dataclasses.replace(record, **{name: value})) != record.hash, name


def test_golden_hash_is_stable():
    # A change here means every stored chain stops verifying: bump deliberately or not at all.
    record = seal(draft(0), 1, GENESIS_HASH)
    assert canonical_bytes(record).startswith(b'{"app":"support","completion_tokens":40,"config_version":"cfg-7",')
    assert record.hash == hashlib.sha256(canonical_bytes(record)).hexdigest()
    assert record.hash == GOLDEN


GOLDEN = "18c58ba5bb1bdd46a8c2edd16fee5ad1b27fba5f42d2b29b0009c6f8e5bda7f9"


def test_normalisation_makes_hashes_independent_of_python_types():
    a = seal(draft(0, timestamp=1_700_000_000, latency_ms=12), 1, GENESIS_HASH)
    b = seal(draft(0, timestamp=1_700_000_000.0, latency_ms=12.0), 1, GENESIS_HASH)
    assert a.hash == b.hash and type(a.timestamp) is float
    t = seal(draft(0, decisions={"entities": ("EMAIL", "IBAN"), "score": 0.25}), 1, GENESIS_HASH)
    assert t.decisions == {"entities": ["EMAIL", "IBAN"], "score": 0.25}
    # What a store returns (decisions read back from JSON) hashes the same.
    again = dataclasses.replace(t, decisions=json.loads(json.dumps(t.decisions)))
    assert compute_hash(again) == t.hash


@pytest.mark.parametrize(
    "overrides",
    [
        {"app": ""},
        {"partition": ""},
        {"cost_usd": "ten dollars"},
        {"cost_usd": "NaN"},
        {"latency_ms": float("nan")},
        {"status": 200.5},
        {"decisions": {"x": object()}},
        {"decisions": {"x": float("inf")}},
        {"model": None},
    ],
)
def test_invalid_drafts_are_refused(overrides):
    with pytest.raises((ValueError, TypeError)):
        seal(draft(0, **overrides), 1, GENESIS_HASH)


def test_daily_partition():
    assert daily_partition("support", T0) == "support#2023-11-14"


def test_intact_chain_has_no_problems():
    records = build(10)
    assert verify_chain(records) == []
    assert verify_chain([]) == []
    assert verify_chain(records, anchor=(10, records[-1].hash)) == []
    assert verify_chain(records, anchor=(4, records[3].hash)) == []


def test_changed_field_is_caught_at_that_record():
    records = build(6)
    records[2] = dataclasses.replace(records[2], model="gpt-4o")  # hash left as it was
    assert kinds(verify_chain(records)) == [(3, chain.CHANGED)]


def test_changed_field_with_recomputed_hash_breaks_the_next_link():
    records = build(6)
    forged = dataclasses.replace(records[2], cost_usd="0")
    records[2] = dataclasses.replace(forged, hash=compute_hash(forged))
    assert kinds(verify_chain(records)) == [(4, chain.BROKEN_LINK)]


def test_removed_records_are_caught():
    records = build(8)
    assert kinds(verify_chain(records[:3] + records[4:])) == [(4, chain.MISSING)]
    problems = verify_chain(records[:2] + records[5:])
    assert kinds(problems) == [(3, chain.MISSING)] and "3..5" in problems[0].detail
    assert kinds(verify_chain(records[2:])) == [(1, chain.MISSING)]


def test_removed_last_record_needs_an_anchor():
    records = build(5)
    assert verify_chain(records[:4]) == []  # indistinguishable from a shorter chain without one
    assert kinds(verify_chain(records[:4], anchor=(5, records[4].hash))) == [(5, chain.TRUNCATED)]
    assert kinds(verify_chain([], partition="p", anchor=(1, "x" * 64))) == [(1, chain.TRUNCATED)]


def test_anchor_mismatch_is_a_change():
    records = build(3)
    assert kinds(verify_chain(records, anchor=(3, "e" * 64))) == [(3, chain.CHANGED)]


def test_reordered_records_are_caught():
    records = build(5)
    swapped = [records[0], records[2], records[1], records[3], records[4]]
    assert kinds(verify_chain(swapped)) == [(2, chain.MISSING), (2, chain.OUT_OF_ORDER)]
    # Swapping the contents but keeping the positions (seq rewritten): both hashes break.
    a, b = records[1], records[2]
    moved = [records[0], dataclasses.replace(b, seq=2), dataclasses.replace(a, seq=3), records[3], records[4]]
    found = kinds(verify_chain(moved))
    assert (2, chain.CHANGED) in found and (3, chain.CHANGED) in found


def test_inserted_record_is_caught():
    records = build(4)
    # A forged record slotted in at seq 3 with a valid hash, the later ones renumbered
    # (their hashes not recomputed): the first renumbered record breaks twice.
    forged = seal(draft(99), 3, records[1].hash)
    renumbered = [dataclasses.replace(r, seq=r.seq + 1) for r in records[2:]]
    found = kinds(verify_chain(records[:2] + [forged] + renumbered))
    assert (4, chain.CHANGED) in found and (4, chain.BROKEN_LINK) in found
    # A second record claiming an existing seq.
    duplicate = seal(draft(98), 2, records[0].hash)
    assert (2, chain.DUPLICATE) in kinds(verify_chain(records[:2] + [duplicate] + records[2:]))


def test_foreign_record_is_caught():
    records = build(3)
    other = build(3, partition="billing#2023-11-14")
    found = kinds(verify_chain(records[:2] + [other[2]], partition=records[0].partition))
    assert (3, chain.WRONG_PARTITION) in found
