"""The boto3 client for the DynamoDB stores and the table-name lookup."""

from __future__ import annotations

import os
from typing import Any, Mapping

from llm_mesh.stores.dynamodb.tables import TABLES

# boto3/botocore are imported lazily: the CDK app imports ``tables`` from this package
# and must not need the AWS SDK.


def client_config() -> Any:
    """botocore Config for the stores: fail fast (2 s connect, 5 s read), standard retries, 3 attempts."""
    from botocore.config import Config

    return Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


def make_client(
    *, endpoint_url: str | None = None, region_name: str | None = None, session: Any = None, config: Any = None
) -> Any:
    """A low-level DynamoDB client; each store bundle owns one."""
    if session is None:
        import boto3

        session = boto3.session.Session()
    return session.client(
        "dynamodb", endpoint_url=endpoint_url, region_name=region_name, config=config or client_config()
    )


def resolve_table_names(
    table_names: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Physical table name per logical name: explicit ones first, then ``MESH_TABLE_<LOGICAL>``.
    Optional tables without a name are left out."""
    environ = os.environ if environ is None else environ
    given = dict(table_names or {})
    unknown = set(given) - {spec.logical for spec in TABLES}
    if unknown:
        raise ValueError(f"unknown logical table name(s): {', '.join(sorted(unknown))}")
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for spec in TABLES:
        name = given.get(spec.logical) or environ.get(spec.env_var)
        if name:
            resolved[spec.logical] = name
        elif not spec.optional:
            missing.append(spec.env_var)
    if missing:
        raise ValueError(
            "DynamoDB table names missing: pass table_names or set " + ", ".join(missing)
        )
    return resolved
