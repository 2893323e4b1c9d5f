"""Assemble one mesh: config + stores + secrets + identity -> a MeshService.

Both homes build through here: ``mesh serve`` with SQLite, env secrets and API
keys; Lambda with DynamoDB, Secrets Manager and IAM principals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from llm_mesh.config.schema import MeshConfig
from llm_mesh.gateway.pipeline import HookContext, build_hooks
from llm_mesh.gateway.provider_pool import ProviderPool
from llm_mesh.gateway.request_log import BackgroundLogWriter, InlineLogWriter, RequestLogWriter
from llm_mesh.gateway.service import MeshService
from llm_mesh.identity import Authenticator
from llm_mesh.providers.base import SecretResolver
from llm_mesh.stores.interfaces import StoreBundle

Home = Literal["local", "aws"]


@dataclass
class MeshRuntime:
    config: MeshConfig
    stores: StoreBundle
    service: MeshService
    home: Home
    log_writer: RequestLogWriter
    unavailable_providers: list[str] = field(default_factory=list)

    async def aclose(self) -> None:
        await self.service.providers.aclose()
        for hook in self.service.hooks:
            close = getattr(hook, "close", None)
            if callable(close):
                close()  # background writers (audit...) finish before the stores close
        self.log_writer.flush()
        self.log_writer.close()


def build_runtime(
    config: MeshConfig,
    stores: StoreBundle,
    secrets: SecretResolver,
    authenticator: Authenticator,
    home: Home = "local",
    background_log: bool | None = None,
    extras: dict[str, Any] | None = None,
) -> MeshRuntime:
    if background_log is None:
        background_log = home == "local"
    log_writer: RequestLogWriter = (
        BackgroundLogWriter(stores.request_log) if background_log else InlineLogWriter(stores.request_log)
    )
    providers = ProviderPool(config, secrets)
    unavailable = providers.warm()
    hooks = build_hooks(HookContext(config=config, stores=stores, secrets=secrets, home=home, extras=dict(extras or {})))
    service = MeshService(
        config, authenticator, providers, log_writer, health=getattr(stores, "health", None), hooks=hooks
    )
    return MeshRuntime(
        config=config, stores=stores, service=service, home=home, log_writer=log_writer,
        unavailable_providers=unavailable,
    )
