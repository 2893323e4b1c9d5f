"""OpenAI embeddings (canonical) <-> Bedrock InvokeModel embedding bodies. Pure.

- Amazon Titan Text Embeddings (v2): one InvokeModel call per input,
  ``{"inputText", "dimensions", "normalize"}`` -> ``{"embedding", "inputTextTokenCount"}``.
  ``dimensions`` is only sent to v2 models (256, 512 or 1024).
- Cohere Embed: batches of up to 96 texts, ``{"texts", "input_type"}`` ->
  ``{"embeddings": [[...]], "response_type": "embeddings_floats"}``. Cohere's body
  has no token count; Bedrock reports it in the ``X-Amzn-Bedrock-Input-Token-Count``
  response header, which the provider passes in.
"""

from __future__ import annotations

import json
from typing import Any

from llm_mesh.providers.common.malformed import reads_upstream
from llm_mesh.errors import InvalidRequest, UpstreamError
from llm_mesh.providers.bedrock.capabilities import base_model_id
from llm_mesh.providers.common.embeddings import embedding_texts
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest

COHERE_BATCH = 96
TITAN_V2_DIMENSIONS = (256, 512, 1024)


def embedding_family(model: str) -> str:
    model_id = base_model_id(model)
    if model_id.startswith("amazon.titan-embed"):
        return "titan"
    if model_id.startswith("cohere.embed"):
        return "cohere"
    raise InvalidRequest(f"model {model!r} is not a Bedrock embedding model (Titan or Cohere Embed)", param="model")


def texts_of(request: EmbeddingsRequest) -> list[str]:
    return embedding_texts(request, "Bedrock embeddings take text input, not token ids", param="input")


def titan_body(text: str, *, model: str, dimensions: int | None, normalize: bool) -> bytes:
    body: dict[str, Any] = {"inputText": text}
    if "titan-embed-text-v2" in base_model_id(model):
        if dimensions is not None:
            if dimensions not in TITAN_V2_DIMENSIONS:
                raise InvalidRequest("Titan v2 embeddings support dimensions 256, 512 or 1024", param="dimensions")
            body["dimensions"] = dimensions
        body["normalize"] = normalize
    elif dimensions is not None:
        raise InvalidRequest("this Titan embedding model has a fixed dimension", param="dimensions")
    return json.dumps(body).encode()


@reads_upstream("bedrock")
def titan_result(data: Any) -> tuple[list[float], int]:
    if not isinstance(data, dict) or not isinstance(data.get("embedding"), list):
        raise UpstreamError("Bedrock returned a malformed Titan embedding")
    return [float(x) for x in data["embedding"]], int(data.get("inputTextTokenCount") or 0)


def cohere_batches(texts: list[str]) -> list[list[str]]:
    return [texts[i : i + COHERE_BATCH] for i in range(0, len(texts), COHERE_BATCH)]


def cohere_body(texts: list[str], *, input_type: str) -> bytes:
    return json.dumps({"texts": texts, "input_type": input_type}).encode()


@reads_upstream("bedrock")
def cohere_result(data: Any, expected: int) -> list[list[float]]:
    vectors = data.get("embeddings") if isinstance(data, dict) else None
    if isinstance(vectors, dict):  # embedding_types requested: {"float": [[...]]}
        vectors = vectors.get("float")
    if not isinstance(vectors, list) or len(vectors) != expected:
        raise UpstreamError("Bedrock returned a malformed Cohere embedding response")
    return [[float(x) for x in vector] for vector in vectors]
