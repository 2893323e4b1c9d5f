"""SageMaker container payload types (TGI, LMI, vLLM/OpenAI).

- TGI (Hugging Face text-generation-inference): request ``{"inputs", "parameters":
  {"max_new_tokens", "temperature", "top_p", "stop", "details"}, "stream"}``; response
  ``[{"generated_text", "details": {"finish_reason", "generated_tokens", "prefill", ...}}]``;
  stream: SSE lines ``data:{"token": {"text"}, "generated_text", "details"}`` whose last
  event carries ``generated_text`` and ``details`` (``input_length`` in recent TGI).
- LMI (DJL Serving, rolling batch): request ``{"inputs", "parameters": {"max_new_tokens",
  "temperature", "top_p", "do_sample", "stop_sequences", "details"}, "stream"}``; response
  ``{"generated_text", "details": {"finish_reason", "generated_tokens", "inputs"}}``
  (a one-element list with ``tgi_compat``); stream: JSON lines ``{"token": {...}}``,
  the last with ``generated_text`` and ``details``; ``finish_reason: "error"`` signals a
  failure during generation.
- vllm_openai: the OpenAI chat completions body and responses / SSE chunks.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

TgiFinishReason = Literal["length", "eos_token", "stop_sequence"]


class GenerationParameters(TypedDict, total=False):
    max_new_tokens: int
    temperature: float
    top_p: float
    do_sample: bool
    stop: list[str]  # TGI
    stop_sequences: list[str]  # LMI
    seed: int
    details: bool


class GenerateRequest(TypedDict, total=False):
    inputs: str
    parameters: GenerationParameters
    stream: bool


class Details(TypedDict, total=False):
    finish_reason: str
    generated_tokens: int
    input_length: int
    prefill: list[Any]
    inputs: str


class StreamToken(TypedDict, total=False):
    id: int
    text: str
    special: bool


class StreamEvent(TypedDict, total=False):
    token: StreamToken
    generated_text: str | None
    details: Details | None
