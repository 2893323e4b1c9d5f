"""Store interfaces: what the core needs from persistence, nothing about how.

Each interface has two adapters: SQLite (``stores/sqlite``, the embedded default,
one file under ``.mesh/``) and DynamoDB (``stores/dynamodb``). One contract test
suite (tests/stores) runs against both. Methods are synchronous: SQLite is
in-process and Lambda serves one request per instance at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str  # public identifier, e.g. "key_3f9a..."; safe to show
    app: str
    key_hash: str  # sha256 hex of the full secret key; the key itself is never stored
    prefix: str  # first characters of the key, for humans to recognise it
    created_at: float  # epoch seconds
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiKeyStore(Protocol):
    def put_key(self, record: ApiKeyRecord) -> None: ...

    def get_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    def list_keys(self, app: str | None = None) -> list[ApiKeyRecord]:
        """Newest first."""
        ...

    def revoke(self, key_id: str, at: float) -> bool:
        """Mark revoked; False when no such key exists."""
        ...


@dataclass(frozen=True)
class RequestLogEntry:
    request_id: str
    timestamp: float  # epoch seconds when the request arrived
    app: str
    route: str
    provider: str
    model: str
    endpoint: str  # "chat.completions", "embeddings", "messages"...
    status: int
    stream: bool
    latency_ms: float  # whole request as the mesh saw it
    upstream_ms: float  # time spent waiting on providers
    overhead_ms: float  # latency_ms - upstream_ms
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    error_code: str | None = None
    attempts: int = 1
    time_to_first_token_ms: float | None = None
    tags: dict[str, str] = field(default_factory=dict)


class RequestLogStore(Protocol):
    def append(self, entry: RequestLogEntry) -> None: ...

    def append_many(self, entries: Sequence[RequestLogEntry]) -> None: ...

    def get(self, request_id: str) -> RequestLogEntry | None: ...

    def recent(self, limit: int = 50, app: str | None = None) -> list[RequestLogEntry]:
        """Newest first; ``app`` restricts to one app's requests."""
        ...


class StoreBundle(Protocol):
    """Everything one home (SQLite or DynamoDB) provides."""

    keys: ApiKeyStore
    request_log: RequestLogStore
    health: TargetHealthStore
    audit: AuditStore
    # True when calls wait on a network (DynamoDB): the gateway runs them off its event loop
    # (gateway.offload). Absent means False: local calls run inline.
    blocking_io: bool
    # True when reads wait as well (DynamoDB); absent means as ``blocking_io``. SQLite in WAL mode
    # blocks only writers, so its reads (the API key lookup) run inline: a thread hop costs more.
    blocking_reads: bool

    def ping(self) -> bool:
        """True when the backing store answers (used by /health)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class TargetHealth:
    """Shared circuit-breaker state of one routing target ("provider/model")."""

    target: str
    failures: int = 0  # failures inside the current window
    window_start: float = 0.0  # epoch seconds of the first failure counted
    open_until: float = 0.0  # epoch seconds; the target is skipped before this

    def is_open(self, now: float) -> bool:
        return self.open_until > now


class TargetHealthStore(Protocol):
    """Circuit-breaker state shared by every instance (Lambda instances share no memory)."""

    def get_health(self, targets: Sequence[str]) -> dict[str, TargetHealth]: ...

    def record_failure(self, target: str, now: float, threshold: int, window: float, cooldown: float) -> TargetHealth:
        """Atomically count a failure (a new window starts when the old one expired) and open
        the circuit for ``cooldown`` seconds when the count reaches ``threshold``. A failure
        after a cool-down ended (the half-open probe) re-opens the circuit at once."""
        ...

    def record_success(self, target: str) -> None:
        """Close the circuit and clear the failure count."""
        ...


GENESIS_HASH = "0" * 64  # prev_hash of the first record of every audit partition


@dataclass(frozen=True)
class AuditDraft:
    """What the gateway knows about one request; the audit store adds seq and the hashes."""

    partition: str  # chain the record joins, e.g. the app name or "app#YYYY-MM-DD"
    record_id: str  # usually the request id
    timestamp: float  # epoch seconds
    app: str
    principal: str  # IAM principal ARN or API key id
    purpose: str | None  # the purpose tag, when the app sent one
    route: str
    provider: str
    model: str
    endpoint: str  # "chat.completions", "embeddings", "messages"...
    status: int
    decisions: dict[str, Any] = field(default_factory=dict)  # policy decisions (JSON values only)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: str = "0"  # decimal string, never a float
    latency_ms: float = 0.0
    config_version: str = ""
    payload: str | None = None  # already encrypted/serialized by the caller; opaque here


@dataclass(frozen=True)
class AuditRecord:
    """One link of a partition's hash chain. ``hash`` is HMAC-SHA256 under the chain key
    (``hmac-sha256:<key id>:<hex>``; plain sha256 hex in chains written before keying) over the
    canonical JSON of every other field (llm_mesh.audit.chain), ``prev_hash`` the hash of record ``seq - 1``."""

    partition: str
    seq: int  # 1, 2, 3... within the partition, no gaps
    record_id: str
    timestamp: float
    app: str
    principal: str
    purpose: str | None
    route: str
    provider: str
    model: str
    endpoint: str
    status: int
    decisions: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int
    cost_usd: str
    latency_ms: float
    config_version: str
    payload: str | None
    prev_hash: str
    hash: str


class AuditStore(Protocol):
    """Append-only, tamper-evident audit trail: there is no update and no delete."""

    def append(self, draft: AuditDraft) -> AuditRecord:
        """Add a record at the end of ``draft.partition`` (seq = last + 1, prev_hash = last hash,
        genesis ``GENESIS_HASH``); safe under concurrent appends from any number of instances."""
        ...

    def query(
        self,
        app: str | None = None,
        since: float | None = None,
        until: float | None = None,
        model: str | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        """Newest first; ``since`` inclusive, ``until`` exclusive (epoch seconds)."""
        ...

    def partition_records(self, partition: str) -> list[AuditRecord]:
        """Every record of one partition, by seq ascending."""
        ...

    def head(self, partition: str) -> AuditRecord | None:
        """The last record of a partition (an anchor to keep elsewhere), None when empty."""
        ...

    def partitions(self) -> list[str]:
        """Every partition name, sorted."""
        ...


# ---------------------------------------------------------------- cost governance (llm_mesh.cost)


@dataclass(frozen=True)
class CostRecord:
    """One priced call. ``cost_usd``/``avoided_usd`` are decimal strings quantized to 1e-9 USD."""

    request_id: str
    timestamp: float  # epoch seconds
    app: str
    route: str
    provider: str
    model: str
    endpoint: str = "chat.completions"
    team: str | None = None
    project: str | None = None
    user: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    status: int = 200
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: str = "0"
    estimated: bool = False  # tokens counted by the mesh's tokenizer, not reported by the provider
    cache_hit: bool = False
    avoided_usd: str = "0"  # what a cache hit would have cost upstream


@dataclass(frozen=True)
class CostAggregate:
    """Atomic per (day, app, model) counters; amounts in integer nano-dollars (1e-9 USD)."""

    day: str  # YYYY-MM-DD (UTC)
    app: str
    model: str
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_nano: int = 0
    avoided_nano: int = 0
    cache_hits: int = 0


class LedgerStore(Protocol):
    def record(self, record: CostRecord) -> bool:
        """Write the record and add it to its (day, app, model) aggregate atomically.
        Idempotent by request_id: False (and no double count) when it was already recorded."""
        ...

    def records(self, since: float, until: float, app: str | None = None, limit: int = 100_000) -> list[CostRecord]:
        """Oldest first; ``since`` inclusive, ``until`` exclusive; at most 366 days back from ``until``."""
        ...

    def aggregates(self, first_day: str, last_day: str, app: str | None = None) -> list[CostAggregate]:
        """Aggregates of the days in [first_day, last_day] (inclusive, YYYY-MM-DD)."""
        ...


@dataclass(frozen=True)
class BudgetState:
    key: str  # budget name + period, e.g. "cx-monthly#2026-11"
    spent_nano: int = 0  # settled cost
    reserved_nano: int = 0  # held by calls in flight


class BudgetStore(Protocol):
    def reserve(self, key: str, amount_nano: int, limit_nano: int, expires_at: float, *,
                hold_id: str | None = None, hold_until: float | None = None) -> BudgetState | None:
        """Atomically hold ``amount_nano`` if spent + reserved + amount <= limit; None when refused.
        With ``hold_id`` the hold expires at ``hold_until`` (epoch s): never settled, it is released
        (lazily, by the next reserve or get of the key), so a dead caller's hold cannot stay forever."""
        ...

    def settle(self, key: str, reserved_nano: int, actual_nano: int, expires_at: float, *,
               hold_id: str | None = None) -> BudgetState:
        """Release a reservation and charge the actual cost (0 releases only); returns the new state.
        A ``hold_id`` already released as expired releases nothing and charges the actual only."""
        ...

    def get(self, key: str) -> BudgetState:
        """The counter, after releasing the key's expired holds."""
        ...


class RateLimitStore(Protocol):
    """Fixed-window counters shared by every instance; keys carry their window."""

    def hit(self, key: str, amount: int, limit: int, expires_at: float) -> int | None:
        """Atomically add ``amount`` if the counter stays <= limit; the new count, or None when refused."""
        ...

    def add(self, key: str, amount: int, expires_at: float) -> int:
        """Unconditional add (may be negative: a reservation's correction)."""
        ...


class CacheStore(Protocol):
    """Response cache: exact entries by key, and per-partition embedding vectors (semantic cache)."""

    def get(self, key: str, now: float) -> str | None: ...

    def put(self, key: str, app: str, value: str, expires_at: float) -> None: ...

    def put_vector(self, partition: str, entry_id: str, vector: bytes, value: str, expires_at: float) -> None: ...

    def vectors(self, partition: str, now: float, limit: int) -> list[tuple[bytes, str]]:
        """Unexpired (vector, value) pairs of one partition, newest first, at most ``limit``."""
        ...


# ---------------------------------------------------------------- Responses API state (llm_mesh.inbound.openai_responses)


class ResponseStore(Protocol):
    """Stored Responses API objects (``store: true``), one namespace per app: another app's id
    is simply not there. Each response keeps its ``Response`` object and the input items that
    produced it (the whole conversation so far, as it went upstream); both are JSON values the
    caller has already redacted. Entries expire at ``expires_at`` (epoch seconds)."""

    def put(self, app: str, response: dict[str, Any], input_items: list[dict[str, Any]], expires_at: float) -> None:
        """Keep (or replace) the response under ``(app, response["id"])``."""
        ...

    def get(self, app: str, response_id: str, now: float) -> dict[str, Any] | None:
        """The ``Response`` object; None when absent, expired or another app's."""
        ...

    def input_items(self, app: str, response_id: str, now: float) -> list[dict[str, Any]] | None:
        """The input items in conversation order; None when the response is absent or expired."""
        ...

    def delete(self, app: str, response_id: str) -> bool:
        """Remove the response and its input items; False when there was none."""
        ...
