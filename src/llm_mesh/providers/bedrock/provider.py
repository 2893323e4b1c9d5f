"""The ``bedrock`` provider: Bedrock Runtime through boto3 (I/O only).

One botocore client per provider, built once with the default credential chain
(environment, container/instance role; no named profile). Calls run on the
provider's own thread pool; ConverseStream events are pumped from a thread into a
bounded queue (see ``llm_mesh.providers.eventstream``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any, AsyncIterator

from llm_mesh.errors import MeshError, UpstreamError
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.bedrock import capabilities as caps
from llm_mesh.providers.bedrock import translate_openai_bedrock_converse as wire
from llm_mesh.providers.bedrock import translate_openai_bedrock_embeddings as emb
from llm_mesh.providers.bedrock.errors import classify_client_error, map_exception
from llm_mesh.providers.bedrock.options import BedrockOptions
from llm_mesh.providers.common.embeddings import embeddings_response
from llm_mesh.providers.aws_common import boto3_client_and_runner
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse

_TITAN_CONCURRENCY = 8


def _response_id(result: Any) -> str:
    request_id = ((result or {}).get("ResponseMetadata") or {}).get("RequestId") if isinstance(result, dict) else None
    return f"chatcmpl-{request_id or uuid.uuid4().hex}"


class BedrockProvider:
    kind = "bedrock"

    def __init__(self, name: str, config: Any, secrets: SecretResolver | None = None) -> None:
        self.name = name
        self._options = BedrockOptions.model_validate(config.options)
        self._client, self._runner = boto3_client_and_runner("bedrock-runtime", name, config, self._options)

    def capabilities(self, model: str) -> Capabilities:
        return caps.capabilities(model, self._options.context_window)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await self._runner.call(getattr(self._client, method), **kwargs)
        except Exception as exc:  # noqa: BLE001 - mapped to a mesh error
            raise map_exception(self.name, exc) from None

    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        kwargs = wire.converse_request(request, caps.lookup(request.model))
        result = await self._call("converse", **kwargs)
        return wire.converse_response(result, model=request.model, response_id=_response_id(result))

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        kwargs = wire.converse_request(request, caps.lookup(request.model))
        result = await self._call("converse_stream", **kwargs)
        stream = result.get("stream") if isinstance(result, dict) else None
        if stream is None:
            raise UpstreamError(f"provider {self.name} returned no event stream")
        translator = wire.StreamTranslator(model=request.model, response_id=_response_id(result))
        try:
            async for event in self._runner.iterate(stream, close=stream.close, maxsize=self._options.stream_buffer):
                for chunk in translator.feed(event):
                    yield chunk
        except wire.StreamException as exc:
            raise classify_client_error(self.name, exc.code, exc.message) from None
        except MeshError:
            raise
        except Exception as exc:  # noqa: BLE001 - EventStreamError, truncated body, timeouts
            raise map_exception(self.name, exc, streaming=True) from None
        if not translator.complete:
            raise UpstreamError(f"provider {self.name} ended the stream before it completed", code="stream_cut")

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        family = emb.embedding_family(request.model)
        texts = emb.texts_of(request)
        if family == "titan":
            semaphore = asyncio.Semaphore(_TITAN_CONCURRENCY)

            async def one(text: str) -> tuple[list[float], int]:
                body = emb.titan_body(
                    text, model=request.model, dimensions=request.dimensions, normalize=self._options.titan_normalize
                )
                async with semaphore:
                    data = await self._invoke(request.model, body)
                return emb.titan_result(data[0])

            results = await asyncio.gather(*(one(text) for text in texts))
            return embeddings_response(
                request.model, [vector for vector, _ in results], sum(tokens for _, tokens in results)
            )
        vectors: list[list[float]] = []
        tokens = 0
        for batch in emb.cohere_batches(texts):
            data, headers = await self._invoke(
                request.model, emb.cohere_body(batch, input_type=self._options.cohere_input_type)
            )
            vectors.extend(emb.cohere_result(data, len(batch)))
            try:
                tokens += int(headers.get("x-amzn-bedrock-input-token-count") or 0)
            except ValueError:
                pass
        return embeddings_response(request.model, vectors, tokens)

    async def _invoke(self, model: str, body: bytes) -> tuple[Any, dict[str, str]]:
        def call() -> tuple[bytes, dict[str, str]]:
            result = self._client.invoke_model(
                modelId=model, body=body, contentType="application/json", accept="application/json"
            )
            headers = (result.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
            return result["body"].read(), {str(k).lower(): str(v) for k, v in headers.items()}

        try:
            raw, headers = await self._runner.call(call)
        except Exception as exc:  # noqa: BLE001
            raise map_exception(self.name, exc) from None
        try:
            return json.loads(raw), headers
        except ValueError:
            raise UpstreamError(f"provider {self.name} returned malformed JSON") from None

    async def aclose(self) -> None:
        self._runner.shutdown()
        try:
            self._client.close()
        except Exception:  # noqa: BLE001
            pass
