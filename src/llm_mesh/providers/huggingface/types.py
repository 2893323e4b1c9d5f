"""Hugging Face TGI / TEI wire types that differ from OpenAI's.

TGI's Messages API (``/v1/chat/completions``) is OpenAI-compatible; its errors are
``{"error": "<message>", "error_type": "<kind>"}`` with 422 (validation,
template_error, tool_error), 424 (generation), 429 (overloaded) or 500
(incomplete_generation). A failure during a stream is one ``data:`` event with
that same body. TEI's ``/embed`` takes ``{"inputs", "normalize", "truncate"}`` and
returns a bare array of vectors.
"""

from __future__ import annotations

from typing import Literal, TypedDict

ErrorType = Literal[
    "validation", "generation", "overloaded", "incomplete_generation", "template_error", "tool_error"
]


class TGIError(TypedDict):
    error: str
    error_type: str


class TEIEmbedRequest(TypedDict, total=False):
    inputs: str | list[str]
    normalize: bool
    truncate: bool


TEIEmbedResponse = list[list[float]]
