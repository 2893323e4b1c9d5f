"""Buffered gateway Lambda: API Gateway REST proxy events -> the mesh's FastAPI app via mangum.

Lambda keeps the process (and this module) alive between invocations of a warm
instance, so the app is built once, on the first invocation, and reused: that is the
one module-level global, and it is what keeps the pooled provider connections, the
parsed config and the DynamoDB client warm. Building lazily (not at import) means an
import never touches AWS and a cold-start failure is reported per invocation.

``lifespan="off"``: mangum would otherwise run the app's startup *and shutdown* on
every invocation, closing the pooled clients each time.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.aws.observability import instrument

_handler: Any = None


@instrument("llm-mesh")  # Powertools Logger (JSON, API Gateway request id) + Tracer
def handler(event: dict, context: Any) -> dict:
    global _handler
    if _handler is None:
        from mangum import Mangum

        from llm_mesh.aws.lambda_entry import build_aws_app

        _handler = Mangum(build_aws_app(), lifespan="off")
    return _handler(event, context)
