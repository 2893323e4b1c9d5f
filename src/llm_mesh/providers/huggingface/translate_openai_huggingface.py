"""OpenAI -> Hugging Face TGI / TEI: only what differs from the openai translator.

Chat bodies are OpenAI's (TGI maps TGI's finish reasons ``eos_token`` and
``stop_sequence`` back via the shared normaliser). Embeddings can use TEI's native
``/embed``, whose request and bare-array response are translated here.
"""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import InvalidRequest
from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.providers.huggingface.types import TEIEmbedRequest
from llm_mesh.wire.openai_embeddings import Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage


def tei_embed_body(request: EmbeddingsRequest, *, normalize: bool) -> TEIEmbedRequest:
    texts = request.texts()
    if not texts:
        raise InvalidRequest("this model's embeddings take text inputs, not token ids", param="input")
    return {"inputs": texts, "normalize": normalize, "truncate": False}


@reads_upstream("huggingface")
def tei_embed_response(data: Any, request: EmbeddingsRequest) -> EmbeddingsResponse:
    if not isinstance(data, list) or not all(isinstance(v, list) for v in data):
        raise ValueError("TEI /embed answers an array of vectors")
    vectors = [[float(x) for x in vector] for vector in data]
    if request.dimensions is not None:
        vectors = [vector[: request.dimensions] for vector in vectors]
    return EmbeddingsResponse(
        data=[Embedding(index=i, embedding=vector) for i, vector in enumerate(vectors)],
        model=request.model,
        usage=EmbeddingsUsage(),  # TEI does not report token counts
    )
