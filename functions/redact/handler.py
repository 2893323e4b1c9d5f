"""Redaction as a service on Lambda: ``POST /v1/mesh/redact`` behind API Gateway (IAM auth).

Its own function (small, no provider clients, no gateway hooks) so redaction for
other applications scales and is permissioned apart from model traffic. The app is
built once per warm instance on the first invocation: config from ``MESH_CONFIG``,
the caller mapped from the IAM principal API Gateway verified, hash salts from
Secrets Manager. Same endpoint code as the gateway's (llm_mesh.http.governance).
"""

from __future__ import annotations

from typing import Any

from llm_mesh.aws.observability import instrument

_handler: Any = None


def build_app() -> Any:
    from fastapi import FastAPI

    from llm_mesh.aws.lambda_entry import config_path
    from llm_mesh.aws.secrets import SecretsManagerResolver
    from llm_mesh.config import load_config
    from llm_mesh.http.governance import RedactService, add_redact_route
    from llm_mesh.identity import IamPrincipalAuthenticator

    config = load_config(config_path())
    service = RedactService.build(config, IamPrincipalAuthenticator(config), secrets=SecretsManagerResolver(), home="aws")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    add_redact_route(app, service)
    return app


@instrument("llm-mesh-redact")  # Powertools Logger (JSON, API Gateway request id) + Tracer
def handler(event: dict, context: Any) -> dict:
    global _handler
    if _handler is None:
        from mangum import Mangum

        _handler = Mangum(build_app(), lifespan="off")
    return _handler(event, context)
