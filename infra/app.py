"""CDK entry point: ``cdk synth`` (cdk.json runs ``.venv/bin/python infra/app.py``).

Context (``-c key=value``):
- ``meshConfig``: path of the mesh config to deploy (default: mesh.aws.yaml at the repo root);
- ``layerMode``: ``full`` (default; pip-installs the layer's wheels, no Docker) or
  ``core`` (copy llm_mesh only: fast, offline, not deployable on its own);
- ``lwaLayerVersion``: AWS Lambda Web Adapter layer version;
- ``allowPrivateUpstreams``: ``true`` to deploy providers at private-range addresses
  (VPC targets); loopback is always refused;
- ``throttleRateLimit`` / ``throttleBurstLimit``: the API stage's throttling (default 100 / 200);
- ``reservedConcurrency``: reserved concurrency of each gateway function (default: none).
- ``xraySubsegments``: ``true`` to record X-Ray SDK subsegments (handler, botocore calls) inside
  each traced invocation; off by default, as the SDK's Tracer adds 0.25-0.45 s to every cold start.

An invalid config stops the synth with the same "path: message" lines as
``mesh validate``, and exit status 1: a bad config never deploys.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "src"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra.mesh_stack import MeshStack  # noqa: E402
from llm_mesh.config import ConfigError  # noqa: E402

STACK_NAME = "LlmMesh"


def build_app(context: dict | None = None, outdir: str | None = None, build_dir: str | None = None) -> tuple[cdk.App, MeshStack]:
    """Build the app and stack (raises ConfigError on an invalid mesh config)."""
    app = cdk.App(context=context or {}, outdir=outdir)
    config = app.node.try_get_context("meshConfig") or "mesh.aws.yaml"
    config_path = Path(config) if Path(config).is_absolute() else ROOT / config
    layer_mode = app.node.try_get_context("layerMode") or "full"
    if layer_mode not in ("full", "core"):
        raise ValueError(f"context layerMode must be 'full' or 'core', not {layer_mode!r}")
    lwa_version = int(app.node.try_get_context("lwaLayerVersion") or 27)
    stack = MeshStack(
        app,
        STACK_NAME,
        config_path=config_path,
        build_dir=build_dir,
        core_only_layer=layer_mode == "core",
        lwa_layer_version=lwa_version,
        allow_private_upstreams=str(app.node.try_get_context("allowPrivateUpstreams")).lower() == "true",
        **_deploy_limits(app),
        description="LLM mesh: governed OpenAI-compatible gateway (API Gateway + Lambda + DynamoDB)",
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    return app, stack


def _deploy_limits(app: cdk.App) -> dict:
    """Stage throttling and the gateway functions' reserved concurrency, from context."""
    limits: dict = {}
    for key, name, kind in (("throttleRateLimit", "throttle_rate_limit", float),
                            ("throttleBurstLimit", "throttle_burst_limit", int),
                            ("reservedConcurrency", "reserved_concurrency", int)):
        value = app.node.try_get_context(key)
        if value not in (None, ""):
            limits[name] = kind(value)
    return limits


def main() -> int:
    try:
        app, _ = build_app()
    except ConfigError as exc:
        print(f"cdk synth refused: {exc}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
