"""The ``sagemaker`` provider: SageMaker real-time endpoints through boto3 (I/O only).

``invoke_endpoint`` for complete answers, ``invoke_endpoint_with_response_stream``
for streams: botocore decodes the event-stream frames into ``PayloadPart`` byte
chunks, which split the container's output anywhere, so lines are reassembled
before they are parsed (see ``LineBuffer``).
"""

from __future__ import annotations

import json
from typing import Any, AsyncIterator

from llm_mesh.errors import InvalidRequest, MeshError, UpstreamError
from llm_mesh.providers.base import Capabilities, SecretResolver
from llm_mesh.providers.aws_common import boto3_client_and_runner
from llm_mesh.providers.sagemaker import translate_openai_sagemaker as wire
from llm_mesh.providers.sagemaker.capabilities import capabilities
from llm_mesh.providers.sagemaker.errors import classify, map_exception
from llm_mesh.providers.sagemaker.options import SageMakerOptions
from llm_mesh.wire.openai_chat import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest
from llm_mesh.wire.openai_embeddings import EmbeddingsRequest, EmbeddingsResponse


class SageMakerProvider:
    kind = "sagemaker"

    def __init__(self, name: str, config: Any, secrets: SecretResolver | None = None) -> None:
        self.name = name
        self._options = SageMakerOptions.model_validate(config.options)
        self._client, self._runner = boto3_client_and_runner("sagemaker-runtime", name, config, self._options)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(self._options)

    # -------------------------------------------------------------- helpers
    def _body(self, request: ChatCompletionRequest, stream: bool) -> tuple[dict[str, Any], str]:
        fmt = self._options.payload_format
        if fmt == "vllm_openai":
            return wire.vllm_request(request, stream=stream), ""
        builder = wire.tgi_request if fmt == "tgi" else wire.lmi_request
        body = builder(request, self._options.prompt_template, stream=stream)
        return body, body["inputs"]

    def _invoke_args(self, request: ChatCompletionRequest, body: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "EndpointName": self._options.endpoint_name or request.model,
            "Body": json.dumps(body, separators=(",", ":")).encode(),
            "ContentType": "application/json",
            "Accept": "application/json",
        }
        if self._options.inference_component:
            args["InferenceComponentName"] = self._options.inference_component
        return args

    # -------------------------------------------------------------- chat
    async def chat(self, request: ChatCompletionRequest) -> ChatCompletion:
        body, prompt = self._body(request, stream=False)
        args = self._invoke_args(request, body)

        def call() -> bytes:
            return self._client.invoke_endpoint(**args)["Body"].read()

        try:
            raw = await self._runner.call(call)
        except Exception as exc:  # noqa: BLE001
            raise map_exception(self.name, exc) from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise UpstreamError(f"provider {self.name} returned malformed JSON") from None
        if self._options.payload_format == "vllm_openai":
            return wire.vllm_response(data)
        if isinstance(data, dict) and "error" in data and "generated_text" not in data:
            raise UpstreamError(f"provider {self.name}: the model failed: {str(data['error'])[:300]}", code="model_error")
        return wire.generate_response(data, model=request.model, prompt=prompt)

    async def chat_stream(self, request: ChatCompletionRequest) -> AsyncIterator[ChatCompletionChunk]:
        body, prompt = self._body(request, stream=True)
        args = self._invoke_args(request, body)
        args["Accept"] = "text/event-stream" if self._options.payload_format != "lmi" else "application/jsonlines"
        try:
            result = await self._runner.call(self._client.invoke_endpoint_with_response_stream, **args)
        except Exception as exc:  # noqa: BLE001
            raise map_exception(self.name, exc) from None
        stream = result.get("Body")
        if stream is None:
            raise UpstreamError(f"provider {self.name} returned no response stream")
        if self._options.payload_format == "vllm_openai":
            translator: Any = wire.OpenAIStreamTranslator()
        else:
            translator = wire.GenerateStreamTranslator(model=request.model, prompt=prompt)
        lines = wire.LineBuffer()
        try:
            async for event in self._runner.iterate(stream, close=stream.close, maxsize=self._options.stream_buffer):
                if "PayloadPart" in event:
                    for line in lines.feed(event["PayloadPart"].get("Bytes") or b""):
                        for chunk in translator.line(line):
                            yield chunk
                elif "ModelStreamError" in event or "InternalStreamFailure" in event:
                    code = "ModelStreamError" if "ModelStreamError" in event else "InternalStreamFailure"
                    raise classify(self.name, code, str((event[code] or {}).get("Message") or ""))
            for line in lines.flush():
                for chunk in translator.line(line):
                    yield chunk
            if isinstance(translator, wire.OpenAIStreamTranslator):
                for chunk in translator.end():
                    yield chunk
        except MeshError:
            raise
        except UnicodeDecodeError:
            raise UpstreamError(f"provider {self.name} sent invalid UTF-8") from None
        except Exception as exc:  # noqa: BLE001 - EventStreamError, truncated body, timeouts
            raise map_exception(self.name, exc, streaming=True) from None
        if not translator.complete:
            raise UpstreamError(f"provider {self.name} ended the stream before it completed", code="stream_cut")

    async def embed(self, request: EmbeddingsRequest) -> EmbeddingsResponse:
        raise InvalidRequest(f"provider {self.name} (SageMaker chat endpoint) does not serve embeddings", param="model")

    async def aclose(self) -> None:
        self._runner.shutdown()
        try:
            self._client.close()
        except Exception:  # noqa: BLE001
            pass
