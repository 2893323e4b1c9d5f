"""What a request needs from a target (tools, vision, JSON schema, context), and
whether a target can give it. Capabilities come from the model registry when the
model is registered, else from the provider's own table."""

from __future__ import annotations

from dataclasses import dataclass

from llm_mesh.config.schema import MeshConfig
from llm_mesh.providers.base import Capabilities
from llm_mesh.wire.openai_chat import ChatCompletionRequest


@dataclass(frozen=True)
class Requirements:
    tools: bool = False
    vision: bool = False
    json_schema: bool = False
    embeddings: bool = False
    output_tokens: int = 0

    @classmethod
    def of_chat(cls, request: ChatCompletionRequest) -> "Requirements":
        vision = any(
            not isinstance(message.content, str)
            and any(getattr(part, "type", None) == "image_url" for part in (message.content or ()))
            for message in request.messages
            if message.role == "user"
        )
        return cls(
            tools=bool(request.tools) and request.tool_choice != "none",
            vision=vision,
            json_schema=request.response_format is not None and request.response_format.type == "json_schema",
            output_tokens=request.output_token_limit or 0,
        )


def effective_capabilities(config: MeshConfig, provider_caps: Capabilities, provider: str, model: str) -> Capabilities:
    entry = config.model_entry(provider, model)
    if entry is None:
        return provider_caps
    # Only what the registry entry states overrides what the provider knows of the model: an
    # entry added for its prices alone must not take vision or embeddings away from it.
    caps = entry.capabilities
    stated = caps.model_fields_set

    def pick(name: str) -> bool:
        return bool(getattr(caps if name in stated else provider_caps, name))

    return Capabilities(
        tools=pick("tools"), vision=pick("vision"), json_schema=pick("json_schema"), embeddings=pick("embeddings"),
        context_window=caps.context_window or provider_caps.context_window,
    )


def unmet(needs: Requirements, caps: Capabilities, prompt_tokens: int | None) -> str | None:
    """The first requirement the target cannot meet, or None."""
    if needs.embeddings and not caps.embeddings:
        return "embeddings"
    if needs.tools and not caps.tools:
        return "tools"
    if needs.vision and not caps.vision:
        return "vision"
    if needs.json_schema and not caps.json_schema:
        return "json_schema"
    if caps.context_window is not None and prompt_tokens is not None:
        if prompt_tokens + needs.output_tokens > caps.context_window:
            return "context_window"
    return None
