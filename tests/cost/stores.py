"""Store factories shared by the cost contract tests: each call is a new instance over one
shared state (another thread's SQLite connection file, another Lambda's boto3 client)."""

from __future__ import annotations

import time
import uuid
from typing import Any, Callable

import pytest

from llm_mesh.stores.sqlite.connection import SqliteDatabase


def _session() -> Any:
    import boto3

    return boto3.session.Session(aws_access_key_id="dummy", aws_secret_access_key="dummy", region_name="us-east-1")


def _create(client: Any, spec: Any, name: str) -> None:
    from llm_mesh.stores.dynamodb.admin import table_definition

    client.create_table(**table_definition(spec, name))
    for _ in range(400):
        if client.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise TimeoutError(name)


def store_factory(request: Any, tmp_path: Any, sqlite_cls: Callable[[SqliteDatabase], Any], spec_name: str,
                  dynamo_cls_path: str) -> Any:
    """Generator body for a ``params=["sqlite", "dynamodb"]`` fixture."""
    if request.param == "sqlite":
        dbs: list[SqliteDatabase] = []

        def sqlite_store() -> Any:
            db = SqliteDatabase(tmp_path / "mesh.db")
            dbs.append(db)
            return sqlite_cls(db)

        yield sqlite_store
        for db in dbs:
            db.close()
        return
    import importlib

    from llm_mesh.stores.dynamodb import tables
    from llm_mesh.stores.dynamodb.client import make_client

    module_name, _, cls_name = dynamo_cls_path.partition(":")
    dynamo_cls = getattr(importlib.import_module(module_name), cls_name)
    endpoint = request.getfixturevalue("dynamodb_local_endpoint")
    admin = request.getfixturevalue("dynamodb_local_client")
    name = f"{spec_name.lower()}-{uuid.uuid4().hex[:10]}"
    _create(admin, getattr(tables, spec_name), name)
    clients: list[Any] = []

    def dynamo_store() -> Any:
        from botocore.config import Config

        client = make_client(endpoint_url=endpoint, region_name="us-east-1", session=_session(),
                             config=Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 10}))
        clients.append(client)
        return dynamo_cls(client, name)

    yield dynamo_store
    for client in clients:
        client.close()
    admin.delete_table(TableName=name)


