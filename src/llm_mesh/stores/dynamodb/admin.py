"""Creating the mesh tables from the shared specs (tests and local tooling;
in AWS the CDK stack creates them from the same ``TABLES``)."""

from __future__ import annotations

import time
from typing import Any, Mapping

from llm_mesh.stores.dynamodb.tables import TABLES, TableSpec


def table_definition(spec: TableSpec, table_name: str) -> dict[str, Any]:
    """CreateTable arguments for one spec: on-demand, every GSI projecting ALL."""
    attributes: dict[str, str] = {spec.partition_key: "S"}
    key_schema = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
    if spec.sort_key:
        attributes[spec.sort_key] = spec.sort_key_type
        key_schema.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
    indexes = []
    for index in spec.indexes:
        attributes.setdefault(index.partition_key, "S")
        schema = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        if index.sort_key:
            attributes.setdefault(index.sort_key, index.sort_key_type)
            schema.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
        indexes.append({"IndexName": index.name, "KeySchema": schema, "Projection": {"ProjectionType": "ALL"}})
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
        "KeySchema": key_schema,
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        definition["GlobalSecondaryIndexes"] = indexes
    return definition


def create_tables(client: Any, table_names: Mapping[str, str], *, timeout_s: float = 60.0) -> None:
    """Create every table in ``TABLES`` (logical -> physical name from ``table_names``),
    wait until each is ACTIVE, and enable TTL where the spec has one. Tables that
    already exist are left as they are."""
    missing = [spec.logical for spec in TABLES if spec.logical not in table_names and not spec.optional]
    if missing:
        raise ValueError(f"no physical table name for: {', '.join(missing)}")
    specs = [spec for spec in TABLES if spec.logical in table_names]  # optional tables may be left out
    for spec in specs:
        try:
            client.create_table(**table_definition(spec, table_names[spec.logical]))
        except client.exceptions.ResourceInUseException:
            pass
    deadline = time.monotonic() + timeout_s
    for spec in specs:
        name = table_names[spec.logical]
        _wait_active(client, name, deadline)
        if spec.ttl_attribute:
            current = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
            if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
                client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )


def _wait_active(client: Any, name: str, deadline: float) -> None:
    delay = 0.05
    while True:
        table = client.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes", [])
        if table["TableStatus"] == "ACTIVE" and all(i.get("IndexStatus") == "ACTIVE" for i in indexes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"DynamoDB table {name} not ACTIVE in time (status {table['TableStatus']})")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
