"""Embeddings shared by translators: the request's texts, and the OpenAI response from vectors."""

from __future__ import annotations

from llm_mesh.errors import InvalidRequest
from llm_mesh.wire.openai_embeddings import Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage


def embedding_texts(request: EmbeddingsRequest, message: str, param: str | None = None) -> list[str]:
    """The request's input texts; InvalidRequest(``message``) when it has none (token-id input)."""
    texts = request.texts()
    if not texts:
        raise InvalidRequest(message, param=param)
    return texts


def embeddings_response(model: str, vectors: list[list[float]], prompt_tokens: int = 0) -> EmbeddingsResponse:
    """One ``Embedding`` per vector, in order; ``prompt_tokens`` is also the total."""
    return EmbeddingsResponse(
        data=[Embedding(index=i, embedding=vector) for i, vector in enumerate(vectors)],
        model=model,
        usage=EmbeddingsUsage(prompt_tokens=prompt_tokens, total_tokens=prompt_tokens),
    )
