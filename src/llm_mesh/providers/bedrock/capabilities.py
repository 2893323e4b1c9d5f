"""Per-model capabilities on Bedrock, by model id prefix.

Source: the Bedrock user guide table "Supported models and model features" of the
Converse API (system prompts, vision, tool use) plus each family's documented
context window. Cross-region inference profile ids (``us.``, ``eu.``, ``apac.``,
``global.`` ...) and inference-profile / provisioned ARNs resolve to the base id.
The first matching prefix wins, so specific prefixes come before general ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_mesh.providers.base import Capabilities


@dataclass(frozen=True)
class BedrockModel:
    family: str
    chat: bool = True
    system: bool = True
    tools: bool = False
    vision: bool = False
    json_schema: bool = False  # Converse outputConfig.textFormat (structured output)
    embeddings: bool = False
    context_window: int | None = None


_TABLE: tuple[tuple[str, BedrockModel], ...] = (
    # Anthropic
    ("anthropic.claude-v2", BedrockModel("anthropic", context_window=100_000)),
    ("anthropic.claude-instant", BedrockModel("anthropic", context_window=100_000)),
    ("anthropic.claude-3-5-haiku", BedrockModel("anthropic", tools=True, context_window=200_000)),
    ("anthropic.claude-haiku-4-5", BedrockModel("anthropic", tools=True, vision=True, json_schema=True, context_window=200_000)),
    ("anthropic.claude-sonnet-4-5", BedrockModel("anthropic", tools=True, vision=True, json_schema=True, context_window=200_000)),
    ("anthropic.claude-opus-4-5", BedrockModel("anthropic", tools=True, vision=True, json_schema=True, context_window=200_000)),
    ("anthropic.claude", BedrockModel("anthropic", tools=True, vision=True, context_window=200_000)),
    # Amazon
    ("amazon.nova-micro", BedrockModel("nova", tools=True, context_window=128_000)),
    ("amazon.nova-premier", BedrockModel("nova", tools=True, vision=True, context_window=1_000_000)),
    ("amazon.nova", BedrockModel("nova", tools=True, vision=True, context_window=300_000)),
    ("amazon.titan-embed", BedrockModel("titan-embed", chat=False, system=False, embeddings=True, context_window=8_192)),
    ("amazon.titan-text-premier", BedrockModel("titan", system=False, context_window=32_000)),
    ("amazon.titan-text", BedrockModel("titan", system=False, context_window=8_192)),
    # Meta
    ("meta.llama3-2-11b", BedrockModel("llama", tools=True, vision=True, context_window=128_000)),
    ("meta.llama3-2-90b", BedrockModel("llama", tools=True, vision=True, context_window=128_000)),
    ("meta.llama4", BedrockModel("llama", tools=True, vision=True, context_window=1_000_000)),
    ("meta.llama3-1", BedrockModel("llama", tools=True, context_window=128_000)),
    ("meta.llama3-2", BedrockModel("llama", tools=True, context_window=128_000)),
    ("meta.llama3-3", BedrockModel("llama", tools=True, context_window=128_000)),
    ("meta.llama3", BedrockModel("llama", context_window=8_192)),
    ("meta.llama2", BedrockModel("llama", context_window=4_096)),
    # Mistral
    ("mistral.mistral-7b-instruct", BedrockModel("mistral", system=False, context_window=32_000)),
    ("mistral.mixtral-8x7b", BedrockModel("mistral", system=False, context_window=32_000)),
    ("mistral.pixtral", BedrockModel("mistral", tools=True, vision=True, context_window=128_000)),
    ("mistral.mistral-large-2402", BedrockModel("mistral", tools=True, context_window=32_000)),
    ("mistral.mistral-large", BedrockModel("mistral", tools=True, context_window=128_000)),
    ("mistral.mistral-small", BedrockModel("mistral", tools=True, context_window=32_000)),
    ("mistral.", BedrockModel("mistral", tools=True, context_window=32_000)),
    # Cohere
    ("cohere.embed", BedrockModel("cohere-embed", chat=False, system=False, embeddings=True, context_window=512)),
    ("cohere.command-r", BedrockModel("cohere", tools=True, context_window=128_000)),
    ("cohere.command", BedrockModel("cohere", system=False, context_window=4_000)),
    # AI21
    ("ai21.jamba-instruct", BedrockModel("ai21", context_window=256_000)),
    ("ai21.jamba", BedrockModel("ai21", tools=True, context_window=256_000)),
    ("ai21.", BedrockModel("ai21", system=False, context_window=8_192)),
)

_UNKNOWN = BedrockModel("unknown", tools=True, vision=True)
_GEO_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")


def base_model_id(model: str) -> str:
    """``us.anthropic.claude-...`` or an inference-profile ARN -> ``anthropic.claude-...``."""
    model_id = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    for prefix in _GEO_PREFIXES:
        if model_id.startswith(prefix):
            return model_id[len(prefix):]
    return model_id


def lookup(model: str) -> BedrockModel:
    model_id = base_model_id(model)
    for prefix, entry in _TABLE:
        if model_id.startswith(prefix):
            return entry
    return _UNKNOWN


def capabilities(model: str, context_window: int | None = None) -> Capabilities:
    entry = lookup(model)
    return Capabilities(
        chat=entry.chat,
        streaming=entry.chat,
        tools=entry.tools,
        vision=entry.vision,
        json_schema=entry.json_schema,
        embeddings=entry.embeddings,
        context_window=context_window or entry.context_window,
    )
