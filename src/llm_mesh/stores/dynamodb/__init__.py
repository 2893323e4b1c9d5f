"""DynamoDB stores (the AWS home). Table layouts live in ``tables.py``, shared with the CDK app."""

from __future__ import annotations

from typing import Any, Mapping

from llm_mesh.audit.keys import key_from_environment
from llm_mesh.stores.dynamodb.admin import create_tables, table_definition
from llm_mesh.stores.dynamodb.audit import DynamoAuditStore
from llm_mesh.stores.dynamodb.budgets import DynamoBudgetStore
from llm_mesh.stores.dynamodb.cache import DynamoCacheStore
from llm_mesh.stores.dynamodb.client import client_config, make_client, resolve_table_names
from llm_mesh.stores.dynamodb.health import DynamoTargetHealthStore
from llm_mesh.stores.dynamodb.keys import DynamoApiKeyStore
from llm_mesh.stores.dynamodb.ledger import DynamoLedgerStore
from llm_mesh.stores.dynamodb.ratelimit import DynamoRateLimitStore
from llm_mesh.stores.dynamodb.request_log import DEFAULT_RETENTION_DAYS, DynamoRequestLogStore

__all__ = [
    "DynamoStores",
    "client_config",
    "create_tables",
    "make_client",
    "open_dynamodb_stores",
    "resolve_table_names",
    "table_definition",
]


class DynamoStores:
    """StoreBundle over the mesh's DynamoDB tables, with one boto3 client."""

    blocking_io = True  # every call is a network round trip (boto3 clients are thread-safe)

    def __init__(
        self, client: Any, table_names: Mapping[str, str], *, retention_days: float = DEFAULT_RETENTION_DAYS
    ) -> None:
        self.client = client
        self.table_names = dict(table_names)
        self.keys = DynamoApiKeyStore(client, self.table_names["keys"])
        self.request_log = DynamoRequestLogStore(client, self.table_names["requests"], retention_days=retention_days)
        # Optional tables (see tables.py): None when no name was given for them.
        health, audit = self.table_names.get("health"), self.table_names.get("audit")
        self.health = DynamoTargetHealthStore(client, health) if health else None
        self.audit = DynamoAuditStore(client, audit, key=key_from_environment()) if audit else None
        # cost governance (llm_mesh.cost); optional tables too
        names = self.table_names
        self.ledger = DynamoLedgerStore(client, names["ledger"]) if names.get("ledger") else None
        self.budgets = DynamoBudgetStore(client, names["budgets"]) if names.get("budgets") else None
        self.ratelimits = DynamoRateLimitStore(client, names["ratelimits"]) if names.get("ratelimits") else None
        self.cache = DynamoCacheStore(client, names["cache"]) if names.get("cache") else None
        # knowledge bases and the prompt catalogue (llm_mesh.kb, llm_mesh.prompts); optional tables
        self.kb_documents = self._optional("kb_documents", "llm_mesh.stores.dynamodb.kb", "DynamoDocumentStore")
        self.prompts = (self._optional("prompts", "llm_mesh.stores.dynamodb.prompts", "DynamoPromptStore", names.get("prompt_outcomes"))
                        if names.get("prompt_outcomes") else None)
        self.responses = self._optional("responses", "llm_mesh.stores.dynamodb.responses", "DynamoResponseStore")

    def _optional(self, logical: str, module: str, cls: str, *more: Any) -> Any:
        """A store over an optional table, imported only when its table is named."""
        name = self.table_names.get(logical)
        if not name:
            return None
        import importlib

        return getattr(importlib.import_module(module), cls)(self.client, name, *more)

    def ping(self) -> bool:
        """One DescribeTable on the keys table; False on any error, never raises."""
        try:
            table = self.client.describe_table(TableName=self.table_names["keys"])["Table"]
            return table.get("TableStatus") in ("ACTIVE", "UPDATING")
        except Exception:
            return False

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> "DynamoStores":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_dynamodb_stores(
    table_names: dict[str, str] | None = None,
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    session: Any = None,
    retention_days: float = DEFAULT_RETENTION_DAYS,
) -> DynamoStores:
    """Stores over existing tables. Names default to ``MESH_TABLE_KEYS`` / ``MESH_TABLE_REQUESTS``;
    ``session`` is a boto3 Session (default: a new one from the environment).
    ``retention_days`` sets the request log's ``expires_at`` TTL."""
    names = resolve_table_names(table_names)
    client = make_client(endpoint_url=endpoint_url, region_name=region_name, session=session)
    return DynamoStores(client, names, retention_days=retention_days)
