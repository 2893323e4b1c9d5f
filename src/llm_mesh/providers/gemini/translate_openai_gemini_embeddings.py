"""OpenAI embeddings <-> Gemini batchEmbedContents and Vertex AI predict. Pure functions, no I/O."""

from __future__ import annotations

from typing import Any

from llm_mesh.errors import UpstreamError
from llm_mesh.providers.common.embeddings import embedding_texts, embeddings_response
from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.providers.gemini import types as g
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse


def batch_embed_request(request: EmbeddingsRequest, model: str, task_type: str | None) -> g.BatchEmbedContentsRequest:
    texts = _embedding_texts(request)
    requests: list[g.EmbedContentRequest] = []
    for text in texts:
        item: g.EmbedContentRequest = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
        if task_type:
            item["taskType"] = task_type
        if request.dimensions is not None:
            item["outputDimensionality"] = request.dimensions
        requests.append(item)
    return {"requests": requests}


@reads_upstream("gemini")
def batch_embed_response(data: Any, model: str, token_count: int) -> EmbeddingsResponse:
    embeddings = data.get("embeddings") if isinstance(data, dict) else None
    if not isinstance(embeddings, list):
        raise UpstreamError("provider returned malformed embeddings")
    return embeddings_response(model, [list(e.get("values") or []) for e in embeddings], token_count)


def vertex_predict_request(request: EmbeddingsRequest, task_type: str | None) -> g.VertexPredictRequest:
    instances: list[g.VertexEmbeddingInstance] = []
    for text in _embedding_texts(request):
        instance: g.VertexEmbeddingInstance = {"content": text}
        if task_type:
            instance["task_type"] = task_type
        instances.append(instance)
    body: g.VertexPredictRequest = {"instances": instances}
    if request.dimensions is not None:
        body["parameters"] = {"outputDimensionality": request.dimensions}
    return body


@reads_upstream("gemini")
def vertex_predict_response(data: Any, model: str) -> EmbeddingsResponse:
    predictions = data.get("predictions") if isinstance(data, dict) else None
    if not isinstance(predictions, list):
        raise UpstreamError("provider returned malformed embeddings")
    vectors: list[list[float]] = []
    tokens = 0
    for prediction in predictions:
        embedding = (prediction or {}).get("embeddings") or {}
        vectors.append(list(embedding.get("values") or []))
        tokens += int((embedding.get("statistics") or {}).get("token_count") or 0)
    return embeddings_response(model, vectors, tokens)


def _embedding_texts(request: EmbeddingsRequest) -> list[str]:
    return embedding_texts(request, "Gemini embeddings take text input (token-id arrays are not supported)")
