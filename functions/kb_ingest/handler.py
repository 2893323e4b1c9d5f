"""Knowledge-base Lambdas (one code bundle, two handlers).

``handler``: S3 upload/delete events under ``kb/<knowledge base>/...`` of the knowledge-base
bucket. An upload is ingested like ``mesh kb ingest`` would (content-hash dedupe, old chunks
of the object replaced); a delete removes the object's chunks. The source name is
``s3://<bucket>/<key>``.

``create_index``: the CloudFormation custom resource that creates the OpenSearch Serverless
vector index (and the hybrid search pipeline) at deploy time, from the same mapping the
store uses; it answers CloudFormation through the pre-signed ResponseURL itself, so no
provider framework function is needed.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from llm_mesh.aws.observability import CLOUDFORMATION_CUSTOM_RESOURCE, S3_EVENT, instrument

PREFIX = "kb/"
_state: dict[str, Any] = {}


def _knowledge_bases() -> Any:
    """Built once per warm instance, exactly as the gateway builds its runtime (route embeddings work)."""
    if "kbs" not in _state:
        from llm_mesh.aws.lambda_entry import config_path
        from llm_mesh.aws.secrets import SecretsManagerResolver
        from llm_mesh.config import load_config
        from llm_mesh.identity import IamPrincipalAuthenticator
        from llm_mesh.kb.base import KnowledgeBases, document_store_for
        from llm_mesh.runtime import build_runtime
        from llm_mesh.stores.dynamodb import open_dynamodb_stores

        config = load_config(config_path())
        stores = open_dynamodb_stores()
        runtime = build_runtime(config, stores, SecretsManagerResolver(), IamPrincipalAuthenticator(config), home="aws")
        _state["kbs"] = KnowledgeBases(dict(config.knowledge_bases), data_dir="/tmp/.mesh",
                                       documents=document_store_for(stores), service=runtime.service)
    return _state["kbs"]


def _s3() -> Any:
    if "s3" not in _state:
        import boto3

        _state["s3"] = boto3.client("s3")
    return _state["s3"]


async def _apply(records: list[dict[str, Any]]) -> dict[str, Any]:
    from llm_mesh.kb.ingest import IngestReport

    report, deleted, skipped = IngestReport(), 0, []
    touched = set()
    for record in records:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        name, _, rest = key[len(PREFIX):].partition("/") if key.startswith(PREFIX) else ("", "", "")
        kbs = _knowledge_bases()
        if not rest or name not in kbs.configs:
            skipped.append(key)
            continue
        kb = kbs.get(name)
        source = f"s3://{bucket}/{key}"
        if record.get("eventName", "").startswith("ObjectRemoved"):
            deleted += kb.ingester().delete(source)
        else:
            body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
            await kb.ingester().ingest_bytes(source, body, Path(rest), report)
        touched.add(name)
    for name in touched:
        _knowledge_bases().get(name).store.flush()
    return {**report.as_dict(), "deleted_chunks": deleted, "skipped": skipped}


@instrument("llm-mesh-kb", correlation_id_path=S3_EVENT)  # Logger (correlation: S3's request id) + Tracer
def handler(event: dict, context: Any) -> dict:
    return asyncio.run(_apply(event.get("Records") or []))


# ---------------------------------------------------------------- custom resource: the vector index
def _respond(event: dict, context: Any, status: str, reason: str = "") -> None:
    body = json.dumps({
        "Status": status, "Reason": reason[:500] or "see the function's log",
        "PhysicalResourceId": event.get("PhysicalResourceId") or event["ResourceProperties"]["Index"],
        "StackId": event["StackId"], "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"content-type": "", "content-length": str(len(body))})
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - CloudFormation's pre-signed https URL
        pass


@instrument("llm-mesh-kb-index", correlation_id_path=CLOUDFORMATION_CUSTOM_RESOURCE)  # Logger + Tracer
def create_index(event: dict, context: Any) -> None:
    create_index_with(event, context)


def create_index_with(event: dict, context: Any, transport: Any = None) -> None:
    """Create on Create/Update (idempotent); leave the index on Delete (the collection goes with the stack)."""
    try:
        if event["RequestType"] in ("Create", "Update"):
            from llm_mesh.kb.stores.opensearch import OpenSearchVectorStore

            props = event["ResourceProperties"]
            store = OpenSearchVectorStore({
                "endpoint": props["Endpoint"], "service": "aoss", "region": os.environ.get("AWS_REGION"),
                "index": props["Index"], "hybrid": str(props.get("Hybrid", "false")).lower() == "true",
                "vector_weight": float(props.get("VectorWeight", 0.7)),
            }, transport=transport)
            store.ensure_index(int(props["Dimensions"]))
        _respond(event, context, "SUCCESS")
    except Exception as exc:  # CloudFormation must always get an answer
        _respond(event, context, "FAILED", f"{type(exc).__name__}: {exc}")
