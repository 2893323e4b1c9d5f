"""Which upstream call an attempt makes: chat completions, or a target's native ``/v1/responses``.

A request that came in on ``/v1/responses`` (``ctx.responses_settings`` set by that adapter)
and is planned onto a provider that speaks the Responses API natively (``speaks_responses``:
an ``openai`` target with ``options.responses: native``) goes to that provider's
``responses_chat`` / ``responses_chat_stream``; everything else, including the next target
when a native call fails over, goes through ``chat`` / ``chat_stream``. Either way the
request is the one the pipeline screened and the answer is the canonical completion, so
every stage before and after the call is the same.
"""

from __future__ import annotations

from functools import partial
from typing import Any, AsyncIterator, Awaitable, Callable

from llm_mesh.gateway.context import RequestContext
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest


def _native(ctx: RequestContext, provider: Any) -> bool:
    return ctx.responses_settings is not None and getattr(provider, "speaks_responses", False) is True


def chat_call(ctx: RequestContext, provider: Any) -> Callable[[ChatCompletionRequest], Awaitable[ChatCompletion]]:
    if _native(ctx, provider):
        return partial(provider.responses_chat, settings=ctx.responses_settings)
    return provider.chat


def stream_call(ctx: RequestContext, provider: Any) -> Callable[[ChatCompletionRequest], AsyncIterator[ChatCompletionChunk]]:
    if _native(ctx, provider):
        return partial(provider.responses_chat_stream, settings=ctx.responses_settings)
    return provider.chat_stream
