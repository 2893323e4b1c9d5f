"""The toxicity hook: each bound policy's ``toxicity:`` check on the answer, whole or streamed.

It sits in the screen stage right after the policy hook, so on the way out (the transform
output stage runs the hooks in reverse) it sees the answer before placeholders are restored:
a remote classifier is never sent the caller's own redacted values. Streamed answers are
checked sentence by sentence and a sentence is released only once it has passed; a block
ends the stream with an error event. Value-free results go to ``ctx.decisions["toxicity"]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_mesh.config.loader import ConfigError
from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import BaseHook
from llm_mesh.gateway.stages import Stage
from llm_mesh.policy.actions import AlertSink
from llm_mesh.policy.governance import governance_of
from llm_mesh.policy.hook import bound_policies, build_alert_sink
from llm_mesh.policy.toxicity import ToxicityClassifier, ToxicityConfig, WordListClassifier
from llm_mesh.policy.toxicity_screen import SentenceScreen, ToxicityScreen
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest


@dataclass(frozen=True)
class PolicyToxicity:
    config: ToxicityConfig
    classifier: ToxicityClassifier
    fail_mode: str  # the policy's, used when the toxicity option names none


@dataclass
class ToxicityHook(BaseHook):
    config: Any
    policies: Mapping[str, PolicyToxicity]
    alert_sink: AlertSink
    name: str = "toxicity"
    stage: Stage = Stage.SCREEN
    _screened: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def screens_for(self, ctx: RequestContext) -> list[ToxicityScreen]:
        app = ctx.caller.app if ctx.caller else ""
        key = (app, ctx.route)
        names = self._screened.get(key)
        if names is None:
            names = tuple(n for n in bound_policies(governance_of(self.config), app, ctx.route) if n in self.policies)
            if len(self._screened) < 10_000:
                self._screened[key] = names
        context = {"app": app, "route": ctx.route, "request_id": ctx.request_id}
        return [ToxicityScreen(n, self.policies[n].config, self.policies[n].classifier,
                               fail_mode=self.policies[n].fail_mode, alert_sink=self.alert_sink, context=context)
                for n in names]

    async def after_chat(self, ctx: RequestContext, request: ChatCompletionRequest, completion: ChatCompletion) -> ChatCompletion:
        screens = self.screens_for(ctx)
        try:
            for choice in completion.choices:
                text = choice.message.content
                if isinstance(text, str) and text:
                    for screen in screens:
                        await _off_loop(screen, screen.check, text)
        finally:
            _record(ctx, screens)
        if any(s.record.fired for s in screens):
            ctx.extra_headers["x-mesh-toxicity"] = "flagged"
        return completion

    def wrap_stream(
        self, ctx: RequestContext, request: ChatCompletionRequest, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        screens = self.screens_for(ctx)
        if not screens:
            return chunks
        return _screen_stream(ctx, screens, chunks)


async def _off_loop(screen: ToxicityScreen, fn: Any, *args: Any) -> Any:
    """A remote classifier blocks on the network: call it on a worker thread."""
    return await asyncio.to_thread(fn, *args) if screen.remote else fn(*args)


def _step(guard: SentenceScreen, text: str, final: bool) -> str:
    out = guard.feed(text).text if text else ""
    return out + guard.flush().text if final else out


async def _through(guards: Sequence[SentenceScreen], text: str, final: bool) -> str:
    for guard in guards:  # each releases whole sentences, so the next one sees whole sentences
        text = await _off_loop(guard.screen, _step, guard, text, final)
    return text


async def _screen_stream(
    ctx: RequestContext, screens: list[ToxicityScreen], chunks: AsyncIterator[ChatCompletionChunk]
) -> AsyncIterator[ChatCompletionChunk]:
    guards: dict[int, list[SentenceScreen]] = {}
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
                delta = choice.delta
                if not delta.content and not choice.finish_reason:
                    out.append(choice)
                    continue
                chain = guards.setdefault(choice.index, [SentenceScreen(s) for s in screens])
                if choice.finish_reason:
                    finished.add(choice.index)
                released = await _through(chain, delta.content or "", bool(choice.finish_reason))
                if released == (delta.content or ""):
                    out.append(choice)
                elif released or delta.role or delta.tool_calls or delta.refusal or choice.finish_reason:
                    out.append(choice.model_copy(update={"delta": delta.model_copy(update={"content": released or None})}))
            if out or chunk.usage is not None:
                yield chunk.model_copy(update={"choices": out})
        if last is not None:  # a stream that ended without finish_reason: release what is still held
            for index, chain in guards.items():
                if index not in finished and (rest := await _through(chain, "", True)):
                    template = last.choices[0]
                    choice = template.model_copy(update={"index": index, "finish_reason": None, "delta": template.delta.model_copy(
                        update={"content": rest, "role": None, "tool_calls": None})})
                    yield last.model_copy(update={"choices": [choice], "usage": None})
    finally:
        _record(ctx, screens)


def _record(ctx: RequestContext, screens: list[ToxicityScreen]) -> None:
    if screens:
        ctx.decisions["toxicity"] = [s.record.to_dict(s.policy, s.config.action) for s in screens]


# ----------------------------------------------------------------------------- building


def build_classifier(policy: str, config: ToxicityConfig, extras: Mapping[str, Any]) -> ToxicityClassifier:
    """The classifier a policy's ``toxicity.kind`` names; AWS ones connect on first use."""
    if config.kind == "word_list":
        return WordListClassifier(config.terms)
    if config.kind == "local":
        local = extras.get("toxicity_classifier")
        if local is None:
            raise ConfigError(f"policies.{policy}.toxicity: kind local needs a classifier from the home "
                              "(extras['toxicity_classifier'], an object with classify(text) -> ToxicityScores)")
        return local
    from llm_mesh.aws.toxicity import BedrockGuardrailToxicity, ComprehendToxicity

    common = {"region": config.region, "timeout": config.timeout, "endpoint_url": config.endpoint_url}
    if config.kind == "comprehend":
        return ComprehendToxicity(language=config.language, **common)
    return BedrockGuardrailToxicity(config.guardrail_id or "", config.guardrail_version, **common)


def toxicity_hook(context: Any) -> ToxicityHook | None:
    """HOOK_FACTORIES entry, right after the policy hook: None when no policy has ``toxicity``."""
    config = context.config
    policies = {
        name: PolicyToxicity(cfg.toxicity, build_classifier(name, cfg.toxicity, context.extras), cfg.fail_mode)
        for name, cfg in config.policies.items() if cfg.toxicity is not None
    }
    if not policies:
        return None
    return ToxicityHook(config=config, policies=policies, alert_sink=build_alert_sink(config, context.home, context.extras))
