"""Build the mesh's FastAPI app for the AWS home (Lambda).

Used by both gateway functions:
- buffered: ``functions/gateway/handler.py`` wraps it with mangum;
- streaming: ``functions/gateway_stream/run.sh`` runs
  ``uvicorn --factory llm_mesh.aws.lambda_entry:build_aws_app`` behind the AWS Lambda
  Web Adapter.

Wiring: the config from ``MESH_CONFIG`` (a path; the CDK app bundles mesh.yaml into
the function code), DynamoDB stores (table names from ``MESH_TABLE_*``), Secrets
Manager for ``secret:`` credentials, and the IAM principal API Gateway verified as the
caller's identity. Nothing is cached here: each call builds a fresh app, and the
function entry points decide how long to keep it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_CONFIG = "mesh.yaml"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    raw = environ.get("MESH_CONFIG")
    if raw:
        return Path(raw)
    task_root = environ.get("LAMBDA_TASK_ROOT")
    return Path(task_root, DEFAULT_CONFIG) if task_root else Path(DEFAULT_CONFIG)


def build_aws_app() -> "FastAPI":
    """Assemble config, DynamoDB stores, Secrets Manager and IAM identity into the HTTP app.

    A bad config raises ``ConfigError`` here (at cold start) with every problem listed;
    ``cdk synth`` already refuses such a file, so this only happens if the bundle was
    edited by hand.
    """
    from llm_mesh.aws.clients import default_session
    from llm_mesh.aws.secrets import SecretsManagerResolver
    from llm_mesh.config import load_config
    from llm_mesh.http.app import create_app
    from llm_mesh.identity import IamPrincipalAuthenticator
    from llm_mesh.runtime import build_runtime
    from llm_mesh.stores.dynamodb import open_dynamodb_stores

    config = load_config(config_path())
    session = default_session()  # one botocore loader for the DynamoDB, Secrets Manager (and audit) clients
    stores = open_dynamodb_stores(endpoint_url=os.environ.get("MESH_DYNAMODB_ENDPOINT") or None, session=session)
    runtime = build_runtime(
        config,
        stores,
        SecretsManagerResolver(session=session),
        IamPrincipalAuthenticator(config),
        home="aws",
    )
    return create_app(runtime)
