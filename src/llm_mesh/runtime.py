"""Assemble one mesh: config + stores + secrets + identity -> a MeshService.

Both homes build through here: ``mesh serve`` with SQLite, env secrets and API
keys; Lambda with DynamoDB, Secrets Manager and IAM principals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llm_mesh.audit.hook import audit_hook
from llm_mesh.config.schema import MeshConfig
from llm_mesh.cost.hook import build_cost_hook
from llm_mesh.cost.ledger_writer import write_behind
from llm_mesh.cost.leases import lease_behind
from llm_mesh.cost.settlement import settle_behind
from llm_mesh.gateway.hooks import HookContext, RequestHook
from llm_mesh.gateway.metrics_observer import build_observer
from llm_mesh.gateway.offload import blocking_io, blocking_reads
from llm_mesh.gateway.pipeline import Pipeline
from llm_mesh.gateway.provider_pool import ProviderPool
from llm_mesh.gateway.request_log import BackgroundLogWriter, InlineLogWriter, RequestLogWriter
from llm_mesh.gateway.service import MeshService
from llm_mesh.identity import Authenticator
from llm_mesh.inbound.openai_responses.capture import response_capture_hook
from llm_mesh.kb.rag import build_rag_hook
from llm_mesh.policy.hook import policy_hook
from llm_mesh.policy.toxicity_hook import toxicity_hook
from llm_mesh.prompts.hook import build_prompt_hook
from llm_mesh.providers.base import SecretResolver
from llm_mesh.stores.interfaces import StoreBundle
from llm_mesh.telemetry import with_telemetry

Home = Literal["local", "aws"]

# Every capability on the request path: factory(HookContext) -> hook | None (None when its
# config section is absent, so an unused capability costs nothing). Each hook declares its
# stage; the pipeline orders them and checks the declarations (llm_mesh.gateway.pipeline).
HOOK_FACTORIES = (build_prompt_hook, build_rag_hook, policy_hook, toxicity_hook, response_capture_hook, build_cost_hook,
                  audit_hook)


def home_extras(home: Home, extras: dict[str, Any] | None) -> dict[str, Any]:
    """The sinks each home provides, chosen here once rather than inside feature code."""
    provided = dict(extras or {})
    if home == "aws" and provided.get("metrics") is None:
        from llm_mesh.aws.metrics import EmfMetricsSink  # Lambda: EMF to stdout, CloudWatch extracts it

        provided["metrics"] = EmfMetricsSink()
    elif home == "local" and "metrics" not in provided:
        from llm_mesh.cost.prometheus import PrometheusMetricsSink  # scraped from GET /metrics

        provided["metrics"] = PrometheusMetricsSink()
    return provided


def build_hooks(context: HookContext) -> list[RequestHook]:
    return [hook for factory in HOOK_FACTORIES if (hook := factory(context)) is not None]


@dataclass
class MeshRuntime:
    config: MeshConfig
    stores: StoreBundle
    service: MeshService
    home: Home
    log_writer: RequestLogWriter
    unavailable_providers: list[str] = field(default_factory=list)
    metrics: Any = None  # the home's metrics sink (Prometheus locally, EMF on AWS)
    behind: tuple[Any, ...] = ()  # store writes made behind the request path: ledger, budget settlement (local)

    def warm(self) -> None:
        """Pay the first request's one-off costs at start: the token encoder's table (~0.4 s),
        compiled detectors and lazily imported modules, so the first caller waits on nothing."""
        from llm_mesh.tokens import count_text

        count_text("warm up the encoder")
        for hook in self.service.hooks:
            warm = getattr(hook, "warm", None)
            if callable(warm):
                warm()

    async def aclose(self) -> None:
        await self.service.providers.aclose()
        for hook in self.service.hooks:
            close = getattr(hook, "close", None)
            if callable(close):
                close()  # background writers (audit...) finish before the stores close
        for writer in self.behind:
            writer.close()
        self.log_writer.flush()
        self.log_writer.close()
        close = getattr(self.metrics, "close", None)
        if callable(close):
            close()  # exporters (OTLP) push their last figures


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
    data_path = getattr(stores, "path", None)  # SQLite: journals live next to the database
    journal_dir = Path(data_path).parent / "journal" if data_path is not None else None
    log_writer: RequestLogWriter = (
        BackgroundLogWriter(stores.request_log, journal_dir=journal_dir) if background_log
        else InlineLogWriter(stores.request_log)
    )
    # where the log is written behind the request path, so are the ledger (journaled first) and budget settlements
    costs = config.costs if background_log else None
    behind = tuple(writer for writer in (
        write_behind(stores, journal_dir) if costs is not None and costs.ledger else None,
        lease_behind(stores, settle_behind(stores)) if costs is not None and costs.budgets else None,
    ) if writer is not None)
    providers = ProviderPool(config, secrets)
    unavailable = providers.warm()
    provided = with_telemetry(config, secrets, home_extras(home, extras))  # + OTLP when observability.otlp is set
    hooks = build_hooks(HookContext(config=config, stores=stores, secrets=secrets, home=home, extras=provided))
    service = MeshService(
        config, authenticator, providers, log_writer, health=getattr(stores, "health", None), pipeline=Pipeline.of(hooks),
        observer=build_observer(config, home, provided), blocking_io=blocking_io(stores),
        blocking_reads=blocking_reads(stores),
    )
    runtime = MeshRuntime(
        config=config, stores=stores, service=service, home=home, log_writer=log_writer,
        unavailable_providers=unavailable, metrics=provided.get("metrics"), behind=behind,
    )
    runtime.warm()
    return runtime
