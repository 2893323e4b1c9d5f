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

import logging
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable, Mapping, Sequence

from llm_mesh.errors import ContentPolicyViolation, InvalidRequest
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import BaseHook
from llm_mesh.gateway.stages import Stage
from llm_mesh.policy.actions import AlertEvent, AlertSink, LoggingAlertSink, PolicyBlocked
from llm_mesh.policy.engine import PolicyDecisions, PolicyEngine
from llm_mesh.policy.findings import BUILTIN_TYPES, CATEGORY_SECRET, DENY_TERM, category_of
from llm_mesh.policy.governance import GovernanceConfig, governance_of
from llm_mesh.policy.guard import SentenceGuard
from llm_mesh.policy.injection import InjectionDetector
from llm_mesh.policy.redactor import RedactionVault, StreamRestorer
from llm_mesh.policy.residency import ResidencyPolicy
from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ToolCallDelta,
    ToolCallDeltaFunction,
)
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

logger = logging.getLogger("llm_mesh.policy")

class OutputBlocked(ContentPolicyViolation):
    """The answer broke the output guardrail (forbidden terms, PII the policy blocks)."""

    code = "output_blocked"


class PromptInjectionBlocked(InvalidRequest):
    code = "prompt_injection"


# ----------------------------------------------------------------------------- building


def classification_of(entity_type: str) -> str:
    if category_of(entity_type) == CATEGORY_SECRET:
        return "secret"
    if entity_type == DENY_TERM or entity_type not in BUILTIN_TYPES:
        return "confidential"  # deny lists, custom patterns (employee ids, project names...)
    return "pii"


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


def _message_texts(request: ChatCompletionRequest) -> tuple[list[str], list[tuple[int, str, int]]]:
    """Every text of the request with its slot: (message index, field, part or tool-call index)."""
    texts: list[str] = []
    slots: list[tuple[int, str, int]] = []
    for i, message in enumerate(request.messages):
        content = message.content
        if isinstance(content, str):
            if content:
                texts.append(content)
                slots.append((i, "content", -1))
        elif content:
            for j, part in enumerate(content):
                text = getattr(part, "text", None)
                if isinstance(text, str) and text:
                    texts.append(text)
                    slots.append((i, "part", j))
        for j, call in enumerate(getattr(message, "tool_calls", None) or ()):
            if call.function.arguments:
                texts.append(call.function.arguments)
                slots.append((i, "tool_call", j))
    return texts, slots


def _rebuild(request: ChatCompletionRequest, slots: list[tuple[int, str, int]], old: list[str], new: list[str]) -> ChatCompletionRequest:
    changed: dict[int, list[tuple[str, int, str]]] = {}
    for (i, kind, j), before, after in zip(slots, old, new):
        if before != after:
            changed.setdefault(i, []).append((kind, j, after))
    if not changed:
        return request
    messages = list(request.messages)
    for i, edits in changed.items():
        message = messages[i]
        update: dict[str, Any] = {}
        parts = list(message.content) if isinstance(message.content, list) else None
        calls = list(message.tool_calls) if getattr(message, "tool_calls", None) else None  # type: ignore[union-attr]
        for kind, j, text in edits:
            if kind == "content":
                update["content"] = text
            elif kind == "part" and parts is not None:
                parts[j] = parts[j].model_copy(update={"text": text})
                update["content"] = parts
            elif kind == "tool_call" and calls is not None:
                call = calls[j]
                calls[j] = call.model_copy(update={"function": call.function.model_copy(update={"arguments": text})})
                update["tool_calls"] = calls
        messages[i] = message.model_copy(update=update)
    return request.model_copy(update={"messages": messages})


# ----------------------------------------------------------------------------- per request


@dataclass
class _RequestState:
    engines: tuple[PolicyEngine, ...]
    vault: RedactionVault
    restore: bool
    context: dict[str, Any]
    output: PolicyDecisions | None = None


class _ChoiceFilter:
    """Output guardrails (chained, one per policy) then placeholder restoring, for one choice."""

    def __init__(self, state: _RequestState) -> None:
        self.guards: list[SentenceGuard] = [e.sentence_guard(context=state.context) for e in state.engines]
        self.restorer: StreamRestorer | None = state.vault.stream_restorer() if state.restore else None
        self.tool_restorers: dict[int, StreamRestorer] = {}
        self.state = state
        self.recorded = False

    def _run(self, text: str, final: bool) -> str:
        for guard in self.guards:
            result = guard.feed(text) if not final else _feed_flush(guard, text)
            if result.violation is not None:
                raise OutputBlocked(result.violation.message)
            text = result.text
        if self.restorer is not None:
            text = self.restorer.feed(text) + (self.restorer.flush() if final else "")
        return text

    def feed(self, text: str) -> str:
        return self._run(text, False)

    def flush(self) -> str:
        return self._run("", True)

    def tool_args(self, index: int, text: str) -> str:
        if self.restorer is None:
            return text
        r = self.tool_restorers.get(index)
        if r is None:
            r = self.tool_restorers[index] = self.state.vault.stream_restorer()
        return r.feed(text)

    def flush_tools(self) -> list[ToolCallDelta]:
        out = []
        for index, r in self.tool_restorers.items():
            rest = r.flush()
            if rest:
                out.append(ToolCallDelta(index=index, function=ToolCallDeltaFunction(arguments=rest)))
        return out

    def _record(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        total = self.state.output or PolicyDecisions("output")
        for guard in self.guards:
            total.merge(guard.decisions)
        self.state.output = total


def _feed_flush(guard: SentenceGuard, text: str):
    first = guard.feed(text) if text else None
    if first is not None and first.violation is not None:
        return first
    rest = guard.flush()
    if rest.violation is not None or first is None:
        return rest
    from llm_mesh.policy.guard import GuardResult

    return GuardResult(first.text + rest.text, None, guard.decisions)


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
        result = self.injection.scan_all(texts)
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
        new, decisions = self._apply(ctx, engines, texts, vault, context)
        if kb_engines and retrieved:
            only = [k for k, slot in enumerate(slots) if slot[0] in retrieved]
            new, more = self._apply(ctx, kb_engines, new, vault, context, only)
            decisions.merge(more)
            decisions.policy += "+" + "+".join(e.name for e in kb_engines)
        ctx.decisions["policy"] = decisions.to_dict()
        self._classify(ctx, decisions, app, route)
        all_engines = tuple(engines) + tuple(kb_engines)
        ctx.policy_state = _RequestState(
            engines=all_engines, vault=vault, restore=all(e.restore_output for e in all_engines), context=context,
        )
        if decisions.total:
            ctx.extra_headers["x-mesh-policy"] = ",".join(f"{t}={n}" for t, n in decisions.entity_counts().items())
        return _rebuild(request, slots, texts, new)

    async def before_embeddings(self, ctx: RequestContext, request: EmbeddingsRequest) -> EmbeddingsRequest:
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

    # --- output -------------------------------------------------------------------
    def _finish(self, ctx: RequestContext, state: _RequestState) -> None:
        if state.output is not None:
            ctx.decisions["output"] = state.output.to_dict()

    async def after_chat(self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion) -> ChatCompletion:
        state: _RequestState | None = ctx.policy_state
        if state is None:
            return completion
        choices = []
        changed = False
        for choice in completion.choices:
            message = choice.message
            flt = _ChoiceFilter(state)
            update: dict[str, Any] = {}
            if message.content:
                try:
                    text = flt._run(message.content, True)
                finally:
                    flt._record()
                    self._finish(ctx, state)
                if text != message.content:
                    update["content"] = text
            if message.tool_calls and state.restore:
                calls = [
                    c.model_copy(update={"function": c.function.model_copy(update={"arguments": state.vault.restore(c.function.arguments)})})
                    for c in message.tool_calls
                ]
                update["tool_calls"] = calls
            if update:
                changed = True
                choice = choice.model_copy(update={"message": message.model_copy(update=update)})
            choices.append(choice)
        return completion.model_copy(update={"choices": choices}) if changed else completion

    def wrap_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        state: _RequestState | None = ctx.policy_state
        if state is None:
            return chunks
        return self._filter_stream(ctx, state, chunks)

    async def _filter_stream(
        self, ctx: RequestContext, state: _RequestState, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        filters: dict[int, _ChoiceFilter] = {}
        finished: set[int] = set()
        last: ChatCompletionChunk | None = None
        try:
            async for chunk in chunks:
                if not chunk.choices:
                    yield chunk
                    continue
                last = chunk
                out = []
                for choice in chunk.choices:
                    flt = filters.get(choice.index)
                    if flt is None:
                        flt = filters[choice.index] = _ChoiceFilter(state)
                    delta = choice.delta
                    update: dict[str, Any] = {}
                    if delta.content:
                        update["content"] = flt.feed(delta.content)
                    if delta.tool_calls:
                        update["tool_calls"] = [
                            tc.model_copy(update={"function": tc.function.model_copy(update={"arguments": flt.tool_args(tc.index, tc.function.arguments)})})
                            if tc.function is not None and tc.function.arguments else tc
                            for tc in delta.tool_calls
                        ]
                    if choice.finish_reason:
                        finished.add(choice.index)
                        update["content"] = update.get("content", delta.content or "") + flt.flush()
                        extra = flt.flush_tools()
                        if extra:
                            update["tool_calls"] = list(update.get("tool_calls") or delta.tool_calls or []) + extra
                        if not update["content"] and delta.content is None:
                            del update["content"]
                    if update:
                        if (update.get("content") == "" and not delta.role and not delta.refusal
                                and not update.get("tool_calls") and not choice.finish_reason):
                            continue  # held back by the guard or restorer: nothing to send yet
                        choice = choice.model_copy(update={"delta": delta.model_copy(update=update)})
                    out.append(choice)
                if out or chunk.usage is not None:
                    yield chunk.model_copy(update={"choices": out}) if out is not chunk.choices else chunk
            # a stream that ended without finish_reason: release what the filters still hold
            if last is not None:
                for index, flt in filters.items():
                    if index in finished:
                        continue
                    rest = flt.flush()
                    if rest:
                        template = last.choices[0]
                        choice = template.model_copy(update={"index": index, "finish_reason": None,
                                                              "delta": template.delta.model_copy(update={"content": rest, "role": None, "tool_calls": None})})
                        yield last.model_copy(update={"choices": [choice], "usage": None})
        finally:
            for flt in filters.values():
                flt._record()
            self._finish(ctx, state)


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


# ----------------------------------------------------------------------------- redaction as a service


def policies_for_caller(config: Any, app: str, admin: bool = False) -> set[str]:
    """Named policies an app may apply through ``POST /v1/mesh/redact``: the default, its
    own binding, those of the routes it may use, its ``redact_api`` list; admins: any."""
    if admin:
        return set(config.policies)
    gov = governance_of(config)
    b = gov.bindings
    names = {n for n in (b.default, b.apps.get(app)) if n}
    app_cfg = config.apps.get(app)
    if app_cfg is not None:
        names.update(name for route, name in b.routes.items() if app_cfg.may_use(route))
    names.update(b.redact_api.get(app, ()))
    return names


def run_policies(engines: Sequence[PolicyEngine], texts: Sequence[str], *, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What the policies do to ``texts``: findings (type, span, action; never values), the
    transformed texts (one vault: typed placeholders) and value-free decisions. Raises
    :class:`PolicyBlocked` when a block action fires."""
    vault = RedactionVault()
    findings: list[list[dict[str, Any]]] = []
    for text in texts:
        per: dict[tuple[int, int, str], dict[str, Any]] = {}
        for engine in engines:
            for f in engine.scan(text):
                rule = engine.rule_for(f.entity_type)
                per.setdefault((f.start, f.end, f.entity_type), {
                    "type": f.entity_type, "start": f.start, "end": f.end, "score": round(f.score, 3),
                    "action": rule.action.value, "policy": engine.name,
                })
        findings.append([per[k] for k in sorted(per)])
    out = list(texts)
    total = PolicyDecisions("+".join(e.name for e in engines))
    for engine in engines:
        out, dec = engine.apply_to_texts(out, vault, context=context)
        total.merge(dec)
    classes = sorted({classification_of(t) for per in total.counts.values() for t in per})
    return {"texts": out, "findings": findings, "decisions": total.to_dict(), "classifications": classes}
