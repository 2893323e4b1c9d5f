"""Capabilities of a SageMaker endpoint: declared in the provider options.

A self-hosted endpoint can serve any model, so nothing is inferred from names:
tools and JSON schema only on the OpenAI-compatible (vLLM) payload and only when
the options say the served model handles them; vision only when declared.
"""

from __future__ import annotations

from llm_mesh.providers.base import Capabilities
from llm_mesh.providers.sagemaker.options import SageMakerOptions


def capabilities(options: SageMakerOptions) -> Capabilities:
    openai_like = options.payload_format == "vllm_openai"
    return Capabilities(
        chat=True,
        streaming=True,
        tools=openai_like and options.tools,
        vision=openai_like and options.vision,
        json_schema=openai_like,
        embeddings=False,
        context_window=options.context_window,
    )
