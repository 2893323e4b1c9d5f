"""Conversation state of the Responses API: ``store`` and ``previous_response_id``.

With ``store`` (default true, as OpenAI does) a response is kept for its app for
``RETENTION_SECONDS`` with the input items that produced it. A request naming
``previous_response_id`` continues from it: its input becomes the previous response's
input items, then its output items, then the new input; the previous ``instructions``
are not carried over (OpenAI documents the same).

What is kept follows the policy: the input items are rebuilt from the messages as they
left the screen stage (``capture``), the output is what the client got with the policy's
placeholders put back, so a redacted value stays redacted at rest.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from llm_mesh.errors import InvalidRequest, NotFound
from llm_mesh.gateway.context import RequestContext
from llm_mesh.inbound.openai_responses.capture import Capture, ResponseCaptureHook
from llm_mesh.inbound.openai_responses.items import (
    as_items,
    check_id,
    items_from_messages,
    keep_ids,
    placeholders_back,
    screened_settings,
)
from llm_mesh.stores.interfaces import ResponseStore

RETENTION_SECONDS = 30 * 86_400  # OpenAI keeps stored responses for 30 days
logger = logging.getLogger("llm_mesh.inbound.responses")


def response_store_for(stores: Any) -> ResponseStore:
    """The response store that goes with a store bundle; memory when the home has no table for it."""
    store = getattr(stores, "responses", None)
    if store is not None:
        return store
    from llm_mesh.stores.memory.responses import MemoryResponseStore

    logger.warning("no responses table: stored responses are kept in this process's memory only")
    return MemoryResponseStore()


def app_of(ctx: RequestContext) -> str:
    if ctx.caller is None:
        raise NotFound("no such response")
    return ctx.caller.app


def not_found(response_id: str, param: str | None = None) -> NotFound:
    what = "Previous response" if param == "previous_response_id" else "Response"
    return NotFound(f"{what} with id '{response_id}' not found.", param=param)


class ConversationState:
    def __init__(self, store: ResponseStore, capture: ResponseCaptureHook | None) -> None:
        self.store = store
        self.capture = capture

    # ------------------------------------------------------------------ before the call

    def wants_store(self, body: dict[str, Any]) -> bool:
        value = body.get("store", True)
        if value is not None and not isinstance(value, bool):
            raise InvalidRequest("store must be a boolean", param="store")
        return value is not False

    def history(self, ctx: RequestContext, body: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The items a ``previous_response_id`` carries into this request (None without one)."""
        previous = body.get("previous_response_id")
        if previous is None:
            return None
        check_id(previous, "previous_response_id")
        app, now = app_of(ctx), time.time()
        response = self.store.get(app, previous, now)
        items = self.store.input_items(app, previous, now) if response is not None else None
        if response is None or items is None:
            raise not_found(previous, "previous_response_id")
        return items + [item for item in response.get("output") or () if isinstance(item, dict)]

    def watch(self, ctx: RequestContext, store: bool) -> Capture | None:
        return self.capture.watch(ctx.request_id) if store and self.capture is not None else None

    # ------------------------------------------------------------------ after the call

    def remember(self, ctx: RequestContext, body: dict[str, Any], history: list[dict[str, Any]] | None,
                 capture: Capture | None, response: dict[str, Any]) -> bool:
        """Keep ``response`` (the object the client got) and its input items, as the policy allows.
        False when it was not kept: the caller still has its answer, a failing store never takes it away."""
        if self.capture is not None:
            self.capture.forget(ctx.request_id)
        if capture is None:
            return False
        if capture.request is None:
            logger.warning("response %s not stored: the screened request was not seen", response.get("id"))
            return False
        try:
            self._put(ctx, body, history, capture.request, response)
        except Exception as error:  # the store is down or refused the write: log it, never the content
            logger.error("response %s not stored: %s", response.get("id"), type(error).__name__)
            return False
        return True

    def _put(self, ctx: RequestContext, body: dict[str, Any], history: list[dict[str, Any]] | None,
             upstream: dict[str, Any], response: dict[str, Any]) -> None:
        messages = list(upstream.get("messages") or ())
        skip = set(ctx.retrieval.message_indexes) if ctx.retrieval is not None else set()
        stored = {**response, **screened_settings(upstream, body)}
        if body.get("instructions") is not None and messages and messages[0].get("role") == "system" and 0 not in skip:
            stored["instructions"] = messages[0].get("content")  # as it went upstream
            skip.add(0)
        kept = [m for index, m in enumerate(messages) if index not in skip]
        given = (history or []) + as_items(body.get("input"))
        input_items = keep_ids(items_from_messages(kept), given)
        stored = placeholders_back(stored, getattr(ctx.policy_state, "vault", None))
        self.store.put(app_of(ctx), stored, input_items, time.time() + RETENTION_SECONDS)

    def abandon(self, ctx: RequestContext) -> None:
        if self.capture is not None:
            self.capture.forget(ctx.request_id)
