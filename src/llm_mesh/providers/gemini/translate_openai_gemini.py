"""OpenAI chat completions and embeddings <-> Gemini. Pure functions, no I/O.

The public face of the Gemini translation, which the provider and the tests import.
Each direction lives in a module of its own:

- ``translate_openai_gemini_request``: chat requests -> generateContent bodies;
- ``translate_openai_gemini_response``: generateContent responses and streams -> chat completions;
- ``translate_openai_gemini_embeddings``: embeddings both ways (Gemini API and Vertex AI);
- ``schema``: JSON schema -> Gemini ``Schema``;
- ``call_ids``: tool-call ids carrying Gemini's thought signatures.
"""

from __future__ import annotations

from llm_mesh.providers.gemini.call_ids import (
    SIGNATURE_SEPARATOR,
    decode_call_id,
    encode_call_id,
    id_tag,
    synthetic_id,
)
from llm_mesh.providers.gemini.schema import gemini_schema
from llm_mesh.providers.gemini.translate_openai_gemini_embeddings import (
    batch_embed_request,
    batch_embed_response,
    vertex_predict_request,
    vertex_predict_response,
)
from llm_mesh.providers.gemini.translate_openai_gemini_request import chat_request_body
from llm_mesh.providers.gemini.translate_openai_gemini_response import (
    StreamTranslator,
    chat_response,
    finish_reason,
    usage,
)

__all__ = [
    "SIGNATURE_SEPARATOR",
    "StreamTranslator",
    "batch_embed_request",
    "batch_embed_response",
    "chat_request_body",
    "chat_response",
    "decode_call_id",
    "encode_call_id",
    "finish_reason",
    "gemini_schema",
    "id_tag",
    "synthetic_id",
    "usage",
    "vertex_predict_request",
    "vertex_predict_response",
]
