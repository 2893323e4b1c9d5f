"""An upper bound on the input tokens a request can be billed for, counting everything.

Budgets and token rate limits reserve a request's worst case before it is sent, so
the bound must never be below what a provider bills. Two facts make it safe and
cheap without a tokenizer on the hot path:

- every BPE token (tiktoken, SentencePiece byte fallback, Claude's, Gemini's) covers
  at least one UTF-8 byte, so the byte length of everything sent as text bounds
  its tokens;
- what is not text is bounded per item: an image by the largest per-image charge
  among the providers (OpenAI high detail at 2048x2048 tiles: 16 x 170 + 85 = 2,805;
  Anthropic about 1,600 at its size cap; Gemini 258), an embedding token id by one.

"Everything" is the whole request as serialised JSON, tool definitions and their
JSON schemas, response_format schemas, tool calls and results, names and stop
sequences included, minus image payloads (replaced by their per-image bound).
"""

from __future__ import annotations

from typing import Any

from llm_mesh.wire.openai_chat import ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

IMAGE_TOKENS = 3_000  # above the dearest per-image charge (OpenAI high detail, 2,805)


def _image_url_bytes(request: ChatCompletionRequest) -> tuple[int, int]:
    """(images, bytes of their URLs) in the request's messages."""
    images = url_bytes = 0
    for message in request.messages:
        content = message.content
        if not isinstance(content, list):
            continue
        for part in content:
            image = getattr(part, "image_url", None)
            if image is not None:
                images += 1
                url_bytes += len(image.url.encode())
    return images, url_bytes


def chat_input_bound(request: ChatCompletionRequest) -> int:
    total = len(request.model_dump_json(exclude_none=True).encode())
    images, url_bytes = _image_url_bytes(request)
    return max(1, total - url_bytes + images * IMAGE_TOKENS)


def embeddings_input_bound(request: EmbeddingsRequest) -> int:
    raw: Any = request.input
    if isinstance(raw, str):
        return max(1, len(raw.encode()))
    total = 0
    for item in raw:
        if isinstance(item, str):
            total += len(item.encode())
        elif isinstance(item, int):
            total += 1  # one token id
        else:
            total += len(item)  # a list of token ids
    return max(1, total)
