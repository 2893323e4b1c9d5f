"""Turn a complete answer into a stream, for answers that did not come from an
upstream stream (cache hits, hook short-circuits)."""

from __future__ import annotations

from typing import AsyncIterator

from llm_mesh.wire.openai_chat import (
    ChatCompletion,
    ChatCompletionChunk,
    ChunkChoice,
    Delta,
    ToolCallDelta,
    ToolCallDeltaFunction,
)


def completion_to_chunks(completion: ChatCompletion) -> list[ChatCompletionChunk]:
    def chunk(choices: list[ChunkChoice], usage=None) -> ChatCompletionChunk:  # type: ignore[no-untyped-def]
        return ChatCompletionChunk(
            id=completion.id, created=completion.created, model=completion.model, choices=choices, usage=usage
        )

    chunks = [chunk([ChunkChoice(index=c.index, delta=Delta(role="assistant", content="")) for c in completion.choices])]
    for choice in completion.choices:
        message = choice.message
        if message.content:
            chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(content=message.content))]))
        for position, call in enumerate(message.tool_calls or []):
            chunks.append(chunk([ChunkChoice(index=choice.index, delta=Delta(tool_calls=[ToolCallDelta(
                index=position, id=call.id, type="function",
                function=ToolCallDeltaFunction(name=call.function.name, arguments=call.function.arguments),
            )]))]))
    chunks.append(chunk([ChunkChoice(index=c.index, delta=Delta(), finish_reason=c.finish_reason or "stop") for c in completion.choices]))
    if completion.usage is not None:
        chunks.append(chunk([], usage=completion.usage))
    return chunks


async def replay_as_stream(completion: ChatCompletion) -> AsyncIterator[ChatCompletionChunk]:
    for item in completion_to_chunks(completion):
        yield item
