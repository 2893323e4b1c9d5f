"""The output side of a policy: guardrails on the answer, then placeholders restored.

``RequestState`` is what the screen stage leaves in ``ctx.policy_state`` (the
engines that applied, the request's vault); the transform-output stage runs the
answer, whole or streamed, through one ``ChoiceFilter`` per choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable

from llm_mesh.errors import ContentPolicyViolation
from llm_mesh.policy.decisions import PolicyDecisions
from llm_mesh.policy.engine import PolicyEngine
from llm_mesh.policy.guard import GuardResult, SentenceGuard
from llm_mesh.policy.redactor import RedactionVault, StreamRestorer
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ToolCallDelta, ToolCallDeltaFunction


class OutputBlocked(ContentPolicyViolation):
    """The answer broke the output guardrail (forbidden terms, PII the policy blocks)."""

    code = "output_blocked"


@dataclass
class RequestState:
    engines: tuple[PolicyEngine, ...]
    vault: RedactionVault
    restore: bool
    context: dict[str, Any]
    output: PolicyDecisions | None = None


class ChoiceFilter:
    """Output guardrails (chained, one per policy) then placeholder restoring, for one choice."""

    def __init__(self, state: RequestState) -> None:
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
    return GuardResult(first.text + rest.text, None, guard.decisions)


def filter_completion(state: "RequestState", completion: ChatCompletion, done: Callable[[], None]) -> ChatCompletion:
    """A whole answer through the guardrails and the restorer; ``done`` records the decisions."""
    choices = []
    changed = False
    for choice in completion.choices:
        message = choice.message
        flt = ChoiceFilter(state)
        update: dict[str, Any] = {}
        if message.content:
            try:
                text = flt._run(message.content, True)
            finally:
                flt._record()
                done()
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


async def filter_stream(
    state: "RequestState", chunks: AsyncIterator[ChatCompletionChunk], done: Callable[[], None]
) -> AsyncIterator[ChatCompletionChunk]:
    """The same, sentence by sentence per choice index; a violation raises OutputBlocked mid-stream."""
    filters: dict[int, ChoiceFilter] = {}
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
                    flt = filters[choice.index] = ChoiceFilter(state)
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
        done()
