"""DynamoDB table layouts, shared by the store adapter and the CDK app.

The CDK stack creates exactly these tables (on demand, PITR, TTL where set) and
passes their physical names to the functions as environment variables
``MESH_TABLE_<LOGICAL>`` (e.g. MESH_TABLE_KEYS). Tests create them in DynamoDB
Local from the same specs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None
    sort_key_type: str = "S"  # "S" or "N"


@dataclass(frozen=True)
class TableSpec:
    logical: str  # short name; env var MESH_TABLE_<LOGICAL upper>
    partition_key: str
    sort_key: str | None = None
    sort_key_type: str = "S"
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    # Optional tables may be left out of explicit table names / the environment (the bundle
    # then has no such store, e.g. ``health is None``); the CDK app still creates them all.
    optional: bool = False
    # Append-only tables (the audit chain): the functions may add and read, never change or delete.
    append_only: bool = False

    @property
    def env_var(self) -> str:
        return f"MESH_TABLE_{self.logical.upper()}"


KEYS = TableSpec(
    logical="keys",
    partition_key="key_hash",
    indexes=(
        Index("by_key_id", "key_id"),
        Index("by_app", "app", "created_at", "N"),
    ),
)

REQUESTS = TableSpec(
    logical="requests",
    partition_key="request_id",
    indexes=(
        Index("by_app_time", "app", "ts", "N"),
        Index("by_day_time", "day", "ts", "N"),
    ),
    ttl_attribute="expires_at",
)

# Shared circuit-breaker state, one item per routing target ("provider/model").
# expires_at (TTL) is set past the end of the window and cool-down by a day.
HEALTH = TableSpec(
    logical="health",
    partition_key="target",
    ttl_attribute="expires_at",
    optional=True,
)

# Audit hash chains: one item per record, (partition, seq); no TTL (append-only, kept).
AUDIT = TableSpec(
    logical="audit",
    partition_key="partition",
    sort_key="seq",
    sort_key_type="N",
    indexes=(Index("by_app_time", "app", "ts", "N"),),
    optional=True,
    append_only=True,
)

# Agent runs: item "run" per run plus "step#<turn>.<index>" per step; newest runs per app via by_app_time.
AGENT_RUNS = TableSpec(
    logical="agent_runs",
    partition_key="run_id",
    sort_key="item",
    indexes=(Index("by_app_time", "app", "created_at", "N"),),
    optional=True,
)

TABLES: tuple[TableSpec, ...] = (KEYS, REQUESTS, HEALTH, AUDIT, AGENT_RUNS)

# Cost ledger (llm_mesh.cost): records pk "R#<app>#<day>#<shard>", sk "<ts>#<request_id>";
# aggregates pk "A#<day>", sk "<app>#<model>#<shard>" (ADD counters, nano-dollars; see ledger.py). No TTL.
LEDGER = TableSpec(logical="ledger", partition_key="pk", sort_key="sk", optional=True)

# Budget counters, one item per budget and period ("name#2026-11"): committed = spent + reserved.
BUDGETS = TableSpec(logical="budgets", partition_key="key", ttl_attribute="expires_at", optional=True)

# Rate-limit windows, one item per scope and minute; expire with TTL.
RATELIMITS = TableSpec(logical="ratelimits", partition_key="key", ttl_attribute="expires_at", optional=True)

# Response cache: exact entries pk "E#<sha256>", sk "-"; semantic vectors pk "S#<app>#<route>", sk "<created>#<id>".
CACHE = TableSpec(logical="cache", partition_key="pk", sort_key="sk", ttl_attribute="expires_at", optional=True)

TABLES = TABLES + (LEDGER, BUDGETS, RATELIMITS, CACHE)

# Knowledge bases (llm_mesh.kb): one item per ingested source (kb, source) with its hash and chunk ids.
KB_DOCUMENTS = TableSpec(logical="kb_documents", partition_key="kb", sort_key="source", optional=True)

# Prompt catalogue: versions "v#<n>", labels "label#<l>" and their history "hist#<l>#<at>" per prompt
# name, experiment state under "experiment#<name>"/"state". Outcomes one item per request; the
# sparse by_experiment index holds those inside an experiment.
PROMPTS = TableSpec(logical="prompts", partition_key="name", sort_key="item", optional=True)
PROMPT_OUTCOMES = TableSpec(
    logical="prompt_outcomes",
    partition_key="request_id",
    indexes=(Index("by_experiment", "experiment", "ts", "N"),),
    optional=True,
)

TABLES = TABLES + (KB_DOCUMENTS, PROMPTS, PROMPT_OUTCOMES)

# Stored Responses API objects (``store: true``): pk "<app>#<response id>", items "response" and
# "input" (JSON through large_items, parts "part#..." beside them); every item expires with TTL.
RESPONSES = TableSpec(logical="responses", partition_key="pk", sort_key="item", ttl_attribute="expires_at",
                      optional=True)

TABLES = TABLES + (RESPONSES,)
