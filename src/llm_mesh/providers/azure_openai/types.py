"""Azure OpenAI wire types that differ from OpenAI's (for reference and typing).

Chat bodies and completions are OpenAI's; Azure adds content-filter annotations
(``prompt_filter_results`` on the completion and on a first ``choices: []`` stream
chunk, ``content_filter_results`` on each choice) and its own error bodies.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ContentFilterCategory(TypedDict, total=False):
    filtered: bool
    severity: str  # safe | low | medium | high
    detected: bool  # jailbreak, protected material


class InnerError(TypedDict, total=False):
    code: str  # "ResponsibleAIPolicyViolation"
    content_filter_result: dict[str, ContentFilterCategory]


class AzureErrorDetail(TypedDict, total=False):
    message: str
    type: str | None
    param: str | None
    code: str | None  # "content_filter", "context_length_exceeded", "429", "DeploymentNotFound"
    status: int
    innererror: InnerError


class AzureErrorBody(TypedDict):
    error: AzureErrorDetail


class PromptFilterResult(TypedDict, total=False):
    prompt_index: int
    content_filter_results: dict[str, Any]


class EntraTokenResponse(TypedDict, total=False):
    token_type: str  # "Bearer"
    expires_in: int  # seconds
    ext_expires_in: int
    access_token: str


class EntraErrorResponse(TypedDict, total=False):
    error: str  # "invalid_client"
    error_description: str
    error_codes: list[int]
