"""The request hook behind ``model: "prompt:NAME[@label|@version]"``.

Resolves the reference (an experiment on that prompt and label picks the version
per user, sticky), renders the template with the request's ``variables``, puts
the rendered messages before the app's own, fills unset parameters from the
template, and points the request at the template's route. The gateway then
authorises that route for the app as usual. ``on_complete`` records the outcome
(latency, cost, status) so experiments can be reported and fed back on.
"""

from __future__ import annotations

import logging
from typing import Any

from llm_mesh.cost.prices import PriceTable
from llm_mesh.cost.settle import settled_cost
from llm_mesh.errors import InvalidRequest, PermissionDenied
from llm_mesh.gateway.context import PromptUse, RequestContext
from llm_mesh.gateway.hooks import BaseHook, Outcome as HookOutcome
from llm_mesh.gateway.stages import Stage
from llm_mesh.prompts.catalogue import PromptCatalogue
from llm_mesh.prompts.experiments import Experiments, assign
from llm_mesh.prompts.render import render
from llm_mesh.prompts.store import Outcome, PromptStore
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionRequest

PREFIX = "prompt:"
logger = logging.getLogger("llm_mesh.prompts")


def request_user(ctx: RequestContext, request: ChatCompletionRequest) -> str:
    """Who the experiment keeps sticky: the request's ``user``, else the caller's key or principal."""
    if request.user:
        return request.user
    if request.metadata and request.metadata.get("user"):
        return request.metadata["user"]
    return ctx.caller.principal if ctx.caller else ""


class PromptHook(BaseHook):
    name = "prompts"
    stage = Stage.RESOLVE  # a prompt reference becomes a route before the service authorises it
    completes = Stage.OBSERVE  # experiment outcomes carry the settled cost

    def __init__(self, config: Any, catalogue: PromptCatalogue, experiments: Experiments) -> None:
        self.config = config
        self.catalogue = catalogue
        self.experiments = experiments
        self.store: PromptStore = catalogue.store
        self.prices = PriceTable.from_config(config)

    async def before_chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest | ChatCompletion:
        if not request.model.startswith(PREFIX):
            return request
        reference = request.model[len(PREFIX):]
        version, label = self.catalogue.resolve(reference)
        # Authorise before anything about the prompt (variables, versions, experiments) can show
        # in an answer, a header or an experiment's outcomes.
        self._authorise(ctx, version.name, version.spec.route)
        experiment = self.experiments.running_for(version.name, label)
        variant = ""
        if experiment is not None:
            variant = assign(experiment, request_user(ctx, request), self.experiments.configs[experiment])
            version = self.catalogue.get(version.name, self.experiments.configs[experiment].variants[variant].version)
            self._authorise(ctx, version.name, version.spec.route)
        extra = request.model_extra or {}
        variables = extra.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise InvalidRequest("variables must be an object of name -> value", param="variables")
        rendered = render(f"{version.name}@v{version.version}", version.spec, variables)
        update: dict[str, Any] = {"model": version.spec.route, "messages": rendered + [m.model_dump(exclude_none=True) for m in request.messages]}
        for key, value in version.spec.parameters.items():
            if getattr(request, key, None) is None:
                update[key] = value
        data = request.model_dump(exclude_none=True)
        data.pop("variables", None)
        data.update(update)
        rewritten = ChatCompletionRequest.model_validate(data)
        ctx.prompt = PromptUse(name=version.name, version=version.version, label=label, experiment=experiment,
                               variant=variant or None, user=request_user(ctx, request))
        ctx.decisions["prompt"] = {"name": version.name, "version": version.version, "label": label,
                                   "experiment": experiment, "variant": variant or None}
        ctx.extra_headers["x-mesh-prompt"] = f"{version.name}@v{version.version}"
        if experiment is not None:
            ctx.extra_headers["x-mesh-experiment"] = f"{experiment}/{variant}"
            ctx.tags.setdefault("experiment", experiment)
        ctx.tags.setdefault("prompt", f"{version.name}@v{version.version}")
        return rewritten

    def _authorise(self, ctx: RequestContext, name: str, route: str) -> None:
        app = self.config.apps.get(ctx.caller.app) if ctx.caller else None
        if app is None or not app.may_use(route):
            raise PermissionDenied(f"this app may not use the prompt {name!r}", param="model")

    def completion_waits(self, ctx: RequestContext) -> bool:
        return ctx.prompt is not None  # an experiment outcome is a store write

    def on_complete(self, ctx: RequestContext, outcome: HookOutcome) -> None:
        prompt = ctx.prompt
        if prompt is None:
            return
        self.store.record_outcome(Outcome(
            request_id=ctx.request_id, prompt=prompt.name, version=prompt.version, experiment=prompt.experiment or "",
            variant=prompt.variant or "", app=ctx.caller.app if ctx.caller else "", user=prompt.user, ts=ctx.received_at,
            status=outcome.status, latency_ms=round(ctx.elapsed_ms(), 3),
            cost_usd=float(settled_cost(self.prices, self.config, ctx, outcome.usage)),
        ))


def prompt_store_for(stores: Any) -> PromptStore:
    db = getattr(stores, "_db", None)
    if db is not None:
        from llm_mesh.stores.sqlite.prompts import SqlitePromptStore

        return SqlitePromptStore(db)
    client, names = getattr(stores, "client", None), getattr(stores, "table_names", {}) or {}
    if client is not None and "prompts" in names and "prompt_outcomes" in names:
        from llm_mesh.stores.dynamodb.prompts import DynamoPromptStore

        return DynamoPromptStore(client, names["prompts"], names["prompt_outcomes"])
    raise RuntimeError("the prompt catalogue needs the prompts tables (SQLite or MESH_TABLE_PROMPTS/MESH_TABLE_PROMPT_OUTCOMES)")


def build_prompt_hook(context: Any) -> PromptHook | None:
    """HOOK_FACTORIES entry: None without a ``prompts`` section."""
    prompts = getattr(context.config, "prompts", None)
    if prompts is None:
        return None
    catalogue = PromptCatalogue(prompts, prompt_store_for(context.stores), files=context.extras.get("prompt_files"))
    return PromptHook(context.config, catalogue, Experiments(dict(getattr(context.config, "experiments", None) or {}), catalogue))


def find_prompt_hook(service: Any) -> PromptHook | None:
    for hook in getattr(service, "hooks", ()):
        if isinstance(hook, PromptHook):
            return hook
    return None
