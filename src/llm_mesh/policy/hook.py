"""The policy hook: the PII/secret policy, prompt-injection screening and data
residency on the request path.

before_chat
    Injection heuristics on the configured roles (and retrieved messages), then the
    bound policies on every message text, tool result and tool-call argument, with
    one :class:`RedactionVault` per request. ``block`` raises :class:`PolicyBlocked`
    (400, entity types and counts only). Value-free decisions go to
    ``ctx.decisions["policy"]``; ``ctx.classifications`` gets ``pii`` / ``secret`` /
    ``confidential`` for what was found (whatever the action: classification is
    about the prompt the app sent), and residency rules turn them into
    ``ctx.target_filter``, which the route planner applies.
after_chat
    Output guardrail (forbidden terms, PII per the policy) on the answer, then
    placeholders restored when every applied policy allows it.
wrap_stream
    The same, sentence by sentence, per choice index (SentenceGuard then
    StreamRestorer); a violation raises :class:`OutputBlocked` mid-stream, which the
    HTTP layer sends as an SSE error event.
before_embeddings
    The policies on string inputs (one-way redaction), classification and residency.

Retrieved text: the enrich stage (RAG) names the messages it added in
``ctx.retrieval`` (knowledge bases, message indexes); knowledge-base policies then
also apply to those messages, and injection screening covers them when
``injection.retrieved`` is true. The per-request state (engines, vault) lives in
``ctx.policy_state`` for the output side.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable, Mapping, Sequence

from llm_mesh.errors import InvalidRequest
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import BaseHook
from llm_mesh.gateway.stages import Stage
from llm_mesh.policy.actions import AlertEvent, AlertSink, LoggingAlertSink, PolicyBlocked
from llm_mesh.policy.engine import PolicyDecisions, PolicyEngine
from llm_mesh.policy.governance import GovernanceConfig, governance_of
from llm_mesh.policy.injection import InjectionDetector
from llm_mesh.policy.output_filter import OutputBlocked, RequestState, filter_completion, filter_stream  # noqa: F401  (OutputBlocked: part of the hook's surface)
from llm_mesh.policy.redact_service import classification_of
from llm_mesh.policy.redactor import RedactionVault
from llm_mesh.policy.text_slots import _message_texts, _rebuild, field_texts, rebuild_fields
from llm_mesh.policy.residency import ResidencyPolicy
from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
)
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

logger = logging.getLogger("llm_mesh.policy")

# Above this many characters of text a request is screened on a worker thread (≈ 1 ms of scanning).
OFFLOAD_CHARS = 32_000


def _text_chars(request: ChatCompletionRequest) -> int:
    total = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            total += len(content)
        elif content:
            total += sum(len(getattr(part, "text", None) or "") for part in content)
        for call in getattr(message, "tool_calls", None) or ():
            total += len(call.function.arguments)
    return total

class PromptInjectionBlocked(InvalidRequest):
    code = "prompt_injection"


# ----------------------------------------------------------------------------- building


def build_alert_sink(config: Any, home: str = "local", extras: Mapping[str, Any] | None = None) -> AlertSink:
    """The configured sink: ``extras["alert_sink"]`` wins; SNS on AWS when a topic is set; else logging."""
    if extras and extras.get("alert_sink") is not None:
        return extras["alert_sink"]
    alerts = governance_of(config).alerts
    if alerts.sns_topic_arn:
        from llm_mesh.aws.alerts import SnsAlertSink

        return SnsAlertSink(alerts.sns_topic_arn, also_log=alerts.log)
    return LoggingAlertSink()


def build_engines(
    config: Any, *, secrets: Any = None, alert_sink: AlertSink | None = None, home: str = "local"
) -> dict[str, PolicyEngine]:
    """One compiled engine per named policy, with its optional detectors."""
    gov = governance_of(config)
    engines = {}
    for name, cfg in config.policies.items():
        extra: list[Any] = []
        if gov.detectors.get(name):
            from llm_mesh.policy.detectors.optional import build_optional_detectors

            extra = build_optional_detectors(gov.detectors[name], home=home)
        engines[name] = PolicyEngine.from_config(
            cfg, name=name, alert_sink=alert_sink, secret_resolver=secrets, extra_detectors=extra
        )
    return engines


def bound_policies(gov: GovernanceConfig, app: str, route: str) -> tuple[str, ...]:
    """Names of the policies that apply to (app, route), in order: app, route; else the default."""
    names: list[str] = []
    for name in (gov.bindings.apps.get(app), gov.bindings.routes.get(route)):
        if name and name not in names:
            names.append(name)
    if not names and gov.bindings.default:
        names.append(gov.bindings.default)
    return tuple(names)


# ----------------------------------------------------------------------------- text slots


# ----------------------------------------------------------------------------- per request


# ----------------------------------------------------------------------------- the hook


@dataclass
class PolicyHook(BaseHook):
    config: Any
    engines: dict[str, PolicyEngine]
    residency: ResidencyPolicy
    injection: InjectionDetector | None = None
    alert_sink: AlertSink = field(default_factory=LoggingAlertSink)
    name: str = "policy"
    stage: Stage = Stage.SCREEN
    _resolved: dict[tuple[str, str], tuple[PolicyEngine, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.gov = governance_of(self.config)
        self.injection_cfg = self.gov.injection

    def warm(self) -> None:
        """Compile and exercise every engine and the injection screen once, at start."""
        sample = ["Reach jane.doe@example.com or +1 415 555 0134; card 4111 1111 1111 1111 from 10.0.0.1."]
        for engine in self.engines.values():
            engine.scan(sample[0])  # detection only: no action runs, so no alert is raised
        if self.injection is not None:
            self.injection.scan_all(["ignore previous instructions"])

    # --- resolution ---------------------------------------------------------------
    def engines_for(self, app: str, route: str) -> tuple[PolicyEngine, ...]:
        key = (app, route)
        found = self._resolved.get(key)
        if found is None:
            found = tuple(self.engines[n] for n in bound_policies(self.gov, app, route))
            if len(self._resolved) < 10_000:
                self._resolved[key] = found
        return found

    # --- input --------------------------------------------------------------------
    def _screen_injection(self, ctx: RequestContext, request: ChatCompletionRequest, retrieved: set[int]) -> None:
        cfg = self.injection_cfg
        if self.injection is None or cfg is None or cfg.action == "off":
            return
        roles = set(cfg.roles)
        texts = []
        for i, message in enumerate(request.messages):
            if message.role in roles or (cfg.retrieved and i in retrieved):
                content = message.content
                if isinstance(content, str):
                    texts.append(content)
                elif content:
                    texts.extend(t for p in content if isinstance(t := getattr(p, "text", None), str))
        result = self.injection.scan_all(texts, scope=ctx.caller.app if ctx.caller else "")
        if result.score < cfg.threshold:
            return
        kinds = result.kinds
        blocked = cfg.action == "block"
        ctx.decisions["injection"] = {"score": round(result.score, 3), "signals": kinds, "action": cfg.action}
        ctx.classifications.add("prompt_injection")
        ctx.extra_headers["x-mesh-injection"] = "blocked" if blocked else "flagged"
        self.alert_sink.emit(
            AlertEvent(policy="injection", direction="input", counts=kinds, actions={k: cfg.action for k in kinds},
                       blocked=blocked, context=self._alert_context(ctx, ctx.route))
        )
        if blocked:
            raise PromptInjectionBlocked(
                f"the request was blocked: it looks like a prompt-injection attempt ({', '.join(kinds)})",
                code="prompt_injection",
            )

    def _alert_context(self, ctx: RequestContext, route: str) -> dict[str, Any]:
        caller = ctx.caller
        return {"app": caller.app if caller else "", "route": route, "request_id": ctx.request_id}

    def _classify(self, ctx: RequestContext, decisions: PolicyDecisions, app: str, route: str) -> None:
        counts = decisions.counts
        if counts:
            for per_type in counts.values():
                for etype in per_type:
                    ctx.classifications.add(classification_of(etype))
        if self.residency:
            ctx.target_filter = self.residency.filter_for(ctx.classifications, app, route)

    def _apply(
        self, ctx: RequestContext, engines: Sequence[PolicyEngine], texts: list[str], vault: RedactionVault | None,
        context: dict[str, Any], only: Iterable[int] | None = None,
    ) -> tuple[list[str], PolicyDecisions]:
        total = PolicyDecisions("+".join(e.name for e in engines))
        for engine in engines:
            try:
                if only is None:
                    texts, dec = engine.apply_to_texts(texts, vault, context=context)
                else:
                    idx = list(only)
                    sub, dec = engine.apply_to_texts([texts[k] for k in idx], vault, context=context)
                    texts = list(texts)
                    for k, t in zip(idx, sub):
                        texts[k] = t
            except PolicyBlocked as exc:
                blocked = getattr(exc, "decisions", None)
                if blocked is not None:
                    total.merge(blocked)
                total.blocked = True
                ctx.decisions["policy"] = total.to_dict()
                for per_type in total.counts.values():
                    for etype in per_type:
                        ctx.classifications.add(classification_of(etype))
                raise
            total.merge(dec)
        return texts, total

    async def before_chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest | ChatCompletion:
        # Scanning is CPU work that grows with the prompt: a large one is screened on a worker
        # thread so it cannot freeze the event loop (and every other request, /health included).
        if _text_chars(request) > OFFLOAD_CHARS:
            return await asyncio.to_thread(self.screen, ctx, request)
        return self.screen(ctx, request)

    def screen(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest:
        """The screen stage on one chat request: injection, bound policies, residency."""
        app = ctx.caller.app if ctx.caller else ""
        route = ctx.route or request.model
        retrieval = ctx.retrieval
        retrieved = set(retrieval.message_indexes) if retrieval is not None else set()
        self._screen_injection(ctx, request, retrieved)
        engines = self.engines_for(app, route)
        kb_engines: list[PolicyEngine] = []
        for kb in (retrieval.knowledge_bases if retrieval is not None else ()):
            name = self.gov.bindings.knowledge_bases.get(kb)
            if name and self.engines[name] not in engines and self.engines[name] not in kb_engines:
                kb_engines.append(self.engines[name])
        if not engines and not kb_engines:
            if self.residency:
                ctx.target_filter = self.residency.filter_for(ctx.classifications, app, route)
            return request
        context = self._alert_context(ctx, route)
        vault = RedactionVault()
        texts, slots = _message_texts(request)
        # Everything else that leaves with the request (user, stop, names, tool schemas, response
        # schemas, image URLs, extra fields) meets the app's and route's policies too.
        data, fields = field_texts(request) if engines else ({}, [])
        field_old = [text for _, text in fields]
        new, decisions = self._apply(ctx, engines, texts + field_old, vault, context)
        new, field_new = new[: len(texts)], new[len(texts):]
        if kb_engines and retrieved:
            only = [k for k, slot in enumerate(slots) if slot[0] in retrieved]
            new, more = self._apply(ctx, kb_engines, new, vault, context, only)
            decisions.merge(more)
            decisions.policy += "+" + "+".join(e.name for e in kb_engines)
        ctx.decisions["policy"] = decisions.to_dict()
        self._classify(ctx, decisions, app, route)
        all_engines = tuple(engines) + tuple(kb_engines)
        ctx.policy_state = RequestState(
            engines=all_engines, vault=vault, restore=all(e.restore_output for e in all_engines), context=context,
        )
        if decisions.total:
            ctx.extra_headers["x-mesh-policy"] = ",".join(f"{t}={n}" for t, n in decisions.entity_counts().items())
        field_edits = [(path, after) for (path, before), after in zip(fields, field_new) if after != before]
        if field_edits:
            request = rebuild_fields(data, field_edits)  # the message slots are indexed the same way
        return _rebuild(request, slots, texts, new)

    async def before_embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsRequest:
        if isinstance(request.input, list) and sum(len(t) for t in request.input if isinstance(t, str)) > OFFLOAD_CHARS:
            return await asyncio.to_thread(self.screen_embeddings, ctx, request)
        if isinstance(request.input, str) and len(request.input) > OFFLOAD_CHARS:
            return await asyncio.to_thread(self.screen_embeddings, ctx, request)
        return self.screen_embeddings(ctx, request)

    def screen_embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsRequest:
        app = ctx.caller.app if ctx.caller else ""
        route = ctx.route or request.model
        engines = self.engines_for(app, route)
        if engines and (isinstance(request.input, str) or (request.input and isinstance(request.input[0], str))):
            texts = request.texts()
            new, decisions = self._apply(ctx, engines, texts, None, self._alert_context(ctx, route))
            ctx.decisions["policy"] = decisions.to_dict()
            self._classify(ctx, decisions, app, route)
            if new != texts:
                return request.model_copy(update={"input": new[0] if isinstance(request.input, str) else new})
            return request
        if self.residency:
            ctx.target_filter = self.residency.filter_for(ctx.classifications, app, route)
        return request

    # --- output (transform-output stage: guardrails, then placeholders restored) -----
    async def after_chat(self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion) -> ChatCompletion:
        state: RequestState | None = ctx.policy_state
        if state is None:
            return completion
        return filter_completion(state, completion, lambda: _record_output(ctx, state))

    def wrap_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        state: RequestState | None = ctx.policy_state
        if state is None:
            return chunks
        return filter_stream(state, chunks, lambda: _record_output(ctx, state))


def _record_output(ctx: RequestContext, state: RequestState) -> None:
    if state.output is not None:
        ctx.decisions["output"] = state.output.to_dict()


def policy_hook(context: Any) -> PolicyHook | None:
    """HOOK_FACTORIES entry: None when no policy, residency rule or injection screening is configured."""
    config = context.config
    gov = governance_of(config)
    b = gov.bindings
    bound = b.default or b.apps or b.routes or b.knowledge_bases
    if not (bound or gov.residency or (gov.injection and gov.injection.action != "off")):
        return None
    sink = build_alert_sink(config, context.home, context.extras)
    engines = build_engines(config, secrets=context.secrets, alert_sink=sink, home=context.home)
    injection = None
    if gov.injection and gov.injection.action != "off":
        injection = InjectionDetector(
            classifier=context.extras.get("injection_classifier"), max_scan_chars=gov.injection.max_scan_chars
        )
    return PolicyHook(config=config, engines=engines, residency=ResidencyPolicy(config), injection=injection, alert_sink=sink)
