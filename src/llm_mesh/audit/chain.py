"""The audit hash chain: canonical bytes, hashing, sealing and verification (pure, no I/O).

Every record of a partition carries ``prev_hash``, the hash of the record before it
(``GENESIS_HASH`` for seq 1), and ``hash`` = HMAC-SHA256 keyed by the writers' secret
(``audit.keys``; stored as ``hmac-sha256:<key id>:<hex>``) over the canonical JSON of all
its other fields. Changing any field breaks the record's own hash, and without the key
nobody can compute a new one; removing a record leaves a seq gap (or, for the last one,
a head that no longer matches a kept anchor); inserting or reordering records breaks seq
order, hashes or links. Chains written before keying carry a plain sha256 hex: they
still verify, reported as ``unkeyed``; a plain record after a keyed one is a downgrade.

Canonical JSON: keys sorted, no whitespace, UTF-8, no NaN/Infinity; ints as ints,
floats as Python's shortest round-trip repr (both stores return floats bit-exact),
``decisions`` normalised to plain JSON values before hashing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from llm_mesh.audit.keys import ChainKey, ChainKeyring, is_keyed, key_id_of
from llm_mesh.stores.interfaces import GENESIS_HASH, AuditDraft, AuditRecord

__all__ = [
    "GENESIS_HASH",
    "Anchor",
    "HASHED_FIELDS",
    "Problem",
    "canonical_bytes",
    "compute_hash",
    "daily_partition",
    "is_unkeyed",
    "normalize_draft",
    "seal",
    "verify_chain",
]

HASHED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditRecord) if f.name != "hash")
_DRAFT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditDraft))

_INT_FIELDS = frozenset({"seq", "status", "prompt_tokens", "completion_tokens"})
_FLOAT_FIELDS = frozenset({"timestamp", "latency_ms"})
_OPTIONAL_STR_FIELDS = frozenset({"purpose", "payload"})

# Problem kinds
CHANGED = "changed"  # the record's hash does not match its fields
MISSING = "missing"  # a seq gap: records removed
BROKEN_LINK = "broken_link"  # prev_hash is not the hash of the record before
OUT_OF_ORDER = "out_of_order"  # seq not increasing in chain order
DUPLICATE = "duplicate"  # two records with one seq
WRONG_PARTITION = "wrong_partition"  # a record claims another partition
BAD_SEQ = "bad_seq"  # seq below 1
TRUNCATED = "truncated"  # the chain ends before a kept anchor (last records removed)
DOWNGRADE = "downgrade"  # a plain-sha256 record after keyed ones: re-sealed by someone without the key
UNKNOWN_KEY = "unknown_key"  # sealed under a key the verifier does not hold


@dataclass(frozen=True)
class Problem:
    partition: str
    seq: int
    kind: str
    detail: str


def daily_partition(app: str, timestamp: float) -> str:
    """The usual partition: one chain per app per UTC day, e.g. ``"support#2025-01-31"``."""
    return f"{app}#{_utc_day(int(timestamp // 86400))}"


@functools.lru_cache(maxsize=64)
def _utc_day(day_number: int) -> str:
    """YYYY-MM-DD of a day since the epoch (UTC days are 86,400 s: POSIX time has no leap seconds)."""
    return datetime.fromtimestamp(day_number * 86400, tz=timezone.utc).strftime("%Y-%m-%d")


def _json_value(value: Any, where: str) -> Any:
    """A plain JSON value (dict with str keys, list, str, int, finite float, bool, None)."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: non-finite number {value!r}")
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _json_value(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [_json_value(v, f"{where}[]") for v in items]
    raise TypeError(f"{where}: {type(value).__name__} is not a JSON value")


def _field_value(name: str, value: Any) -> Any:
    if name in _INT_FIELDS:
        if isinstance(value, bool) or int(value) != value:
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return int(value)
    if name in _FLOAT_FIELDS:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite, got {value!r}")
        return number
    if name == "decisions":
        return _json_value(dict(value or {}), "decisions")
    if name == "cost_usd":
        text = str(value)
        try:
            if not Decimal(text).is_finite():
                raise ValueError
        except (InvalidOperation, ValueError):
            raise ValueError(f"cost_usd must be a finite decimal string, got {value!r}") from None
        return text
    if name in _OPTIONAL_STR_FIELDS and value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__}")
    return value


def normalize_draft(draft: AuditDraft | AuditRecord | Mapping[str, Any]) -> dict[str, Any]:
    """The draft's fields with the types the chain hashes (ints, floats, JSON decisions, decimal
    string cost). Raises ValueError/TypeError on values that could not round-trip a store."""
    get = draft.get if isinstance(draft, Mapping) else (lambda name, default=None: getattr(draft, name, default))
    values = {name: _field_value(name, get(name)) for name in _DRAFT_FIELDS}
    if not values["partition"]:
        raise ValueError("partition must not be empty")
    if not values["app"]:
        raise ValueError("app must not be empty")
    return values


def canonical_bytes(record: AuditRecord | Mapping[str, Any]) -> bytes:
    """The bytes that are hashed: canonical JSON of every field but ``hash``."""
    get = record.get if isinstance(record, Mapping) else (lambda name: getattr(record, name))
    body = {name: _field_value(name, get(name)) for name in HASHED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def compute_hash(record: AuditRecord | Mapping[str, Any], key: ChainKey | None = None) -> str:
    """The record's hash string: HMAC-SHA256 under ``key`` (``hmac-sha256:<id>:<hex>``), or,
    without a key, the legacy plain sha256 hex. The record's own ``hash`` is ignored."""
    data = canonical_bytes(record)
    return key.seal(data) if key is not None else hashlib.sha256(data).hexdigest()


def seal(
    draft: AuditDraft | AuditRecord | Mapping[str, Any], seq: int, prev_hash: str, key: ChainKey | None = None
) -> AuditRecord:
    """The record a draft becomes at position ``seq`` after a record hashed ``prev_hash``."""
    if seq < 1:
        raise ValueError(f"seq starts at 1, got {seq}")
    values = normalize_draft(draft)
    values["seq"] = int(seq)
    values["prev_hash"] = prev_hash
    values["hash"] = compute_hash(values, key)
    return AuditRecord(**values)


Anchor = tuple[int, str]  # (seq, hash) of a record, kept outside the store


def _hash_problem(record: AuditRecord, keyring: ChainKeyring, keyed_before: bool) -> tuple[str, str] | None:
    """(kind, detail) when the record's own hash does not hold, None when it does."""
    stored = record.hash
    if is_keyed(stored):
        key = keyring.get(key_id_of(stored))
        if key is None:
            return UNKNOWN_KEY, f"sealed with key {key_id_of(stored)!r}, which this verifier does not hold"
    elif keyed_before:
        return DOWNGRADE, "plain sha256 after keyed records (re-sealed without the key)"
    else:
        key = None
    try:
        expected = compute_hash(record, key)
    except (TypeError, ValueError) as exc:
        expected = f"<unhashable: {exc}>"
    if hmac.compare_digest(expected, stored):
        return None
    return CHANGED, f"stored hash {stored[-64:][:16]}... != computed {expected[-64:][:16]}..."


def _link_problem(record: AuditRecord, prev: AuditRecord | None) -> tuple[str, str, int] | None:
    """(kind, detail, at seq) when the record does not follow ``prev`` (None: the first)."""
    seq = record.seq
    if prev is None:
        if seq < 1:
            return BAD_SEQ, "seq below 1", seq
        if seq > 1:
            return MISSING, f"records 1..{seq - 1} missing before the first record", 1
        if record.prev_hash != GENESIS_HASH:
            return BROKEN_LINK, "first record does not start from the genesis hash", seq
        return None
    if seq == prev.seq:
        return DUPLICATE, f"seq {seq} appears twice", seq
    if seq < prev.seq:
        return OUT_OF_ORDER, f"seq {seq} follows seq {prev.seq}", seq
    if seq > prev.seq + 1:
        gap = f"{prev.seq + 1}" if seq == prev.seq + 2 else f"{prev.seq + 1}..{seq - 1}"
        return MISSING, f"record(s) {gap} missing", prev.seq + 1
    if record.prev_hash != prev.hash:
        return BROKEN_LINK, f"prev_hash does not match the hash of record {prev.seq}", seq
    return None


def _anchor_problems(name: str, by_seq: dict[int, AuditRecord], last: int, anchors: Iterable[Anchor]) -> list[Problem]:
    problems = []
    for anchor_seq, anchor_hash in sorted(set(anchors)):
        held = by_seq.get(anchor_seq)
        if held is None:
            detail = f"anchor at seq {anchor_seq} but the chain ends at seq {last}"
            problems.append(Problem(name, anchor_seq, TRUNCATED, detail))
        elif not hmac.compare_digest(held.hash, anchor_hash):
            problems.append(Problem(name, anchor_seq, CHANGED, "record does not match the kept anchor hash"))
    return problems


def verify_chain(
    records: Iterable[AuditRecord],
    partition: str | None = None,
    anchor: Anchor | Iterable[Anchor] | None = None,
    keyring: ChainKeyring | ChainKey | None = None,
) -> list[Problem]:
    """Problems in one partition's records, given in chain order (seq ascending, as
    ``AuditStore.partition_records`` returns them). ``partition`` defaults to the first
    record's; ``anchor`` is one (seq, hash) head kept elsewhere, or several, which catch
    removal of the last records and a re-seal by a key holder. ``keyring`` holds the keys
    keyed records are checked with (a keyed record under a key it lacks is a problem).
    An empty list means the chain is intact (see ``is_unkeyed`` for legacy chains)."""
    if isinstance(keyring, ChainKey):
        keyring = ChainKeyring([keyring])
    keyring = keyring or ChainKeyring()
    problems: list[Problem] = []
    prev: AuditRecord | None = None
    by_seq: dict[int, AuditRecord] = {}
    keyed_before = False
    for record in records:
        partition = partition if partition is not None else record.partition
        if record.partition != partition:
            problems.append(Problem(partition, record.seq, WRONG_PARTITION, f"record claims partition {record.partition!r}"))
        if (bad_hash := _hash_problem(record, keyring, keyed_before)) is not None:
            problems.append(Problem(partition, record.seq, *bad_hash))
        keyed_before = keyed_before or is_keyed(record.hash)
        by_seq.setdefault(record.seq, record)
        if (bad_link := _link_problem(record, prev)) is not None:
            kind, detail, at = bad_link
            problems.append(Problem(partition, at, kind, detail))
        if prev is None or record.seq > prev.seq:
            prev = record
    if anchor is not None:
        anchors = [anchor] if isinstance(anchor, tuple) and len(anchor) == 2 and isinstance(anchor[0], int) else anchor
        problems += _anchor_problems(partition or "", by_seq, prev.seq if prev else 0, anchors)
    return problems


def is_unkeyed(records: Iterable[AuditRecord]) -> bool:
    """True when some record carries only a plain sha256 (written before the chain was keyed)."""
    return any(not is_keyed(record.hash) for record in records)
