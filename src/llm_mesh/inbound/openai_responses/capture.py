"""What a stored response keeps of its request: the messages exactly as they leave the screen stage.

Stored conversation state follows the policy: what is kept at rest is what the mesh sent
upstream (placeholders, masks, removals already applied), never the client's raw input.
The screened request exists only inside the pipeline, so this hook sits in the screen stage
right after the policy (and toxicity) hooks and copies the messages of the requests the
Responses endpoint asked it to watch. A request nobody asked about costs one dict lookup.
Being before the admit stage, it sees a request the cache then answers too.
"""

from __future__ import annotations

import threading
from typing import Any

from llm_mesh.gateway.context import RequestContext
from llm_mesh.gateway.hooks import BaseHook, HookContext
from llm_mesh.gateway.stages import Stage
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionRequest

NAME = "responses_state"


class Capture:
    """The screened request of one watched request, as JSON (None until the screen stage ran)."""

    def __init__(self) -> None:
        self.request: dict[str, Any] | None = None


class ResponseCaptureHook(BaseHook):
    name = NAME
    stage = Stage.SCREEN

    def __init__(self) -> None:
        self._watched: dict[str, Capture] = {}
        self._lock = threading.Lock()

    def watch(self, request_id: str) -> Capture:
        capture = Capture()
        with self._lock:
            self._watched[request_id] = capture
        return capture

    def forget(self, request_id: str) -> None:
        with self._lock:
            self._watched.pop(request_id, None)

    async def before_chat(self, ctx: RequestContext, request: ChatCompletionRequest) -> ChatCompletionRequest | ChatCompletion:
        capture = self._watched.get(ctx.request_id)
        if capture is not None:
            capture.request = request.model_dump(mode="json", by_alias=True, exclude_none=True)
        return request


def response_capture_hook(context: HookContext) -> ResponseCaptureHook:
    """HOOK_FACTORIES entry: always present (the Responses endpoint stores by default)."""
    return ResponseCaptureHook()


def find_capture_hook(service: Any) -> ResponseCaptureHook | None:
    return next((h for h in service.hooks if isinstance(h, ResponseCaptureHook)), None)
