"""Response-cache keys and the semantic cache's vectors.

Exact key: sha256 over the app and the normalized request: the route and every
parameter that changes the output (messages, sampling, tools, response format,
extra provider parameters), never ``user``, ``metadata`` or the streaming flags
(a streamed request replays a stored answer as a stream). The app is part of the
key, so an entry can only ever be found by the app that stored it.

Eligibility: answers sampled at temperature > 0 (or with no temperature, which
providers treat as 1) are not cached unless the route says ``temperature_any`` or
the request sends ``x-mesh-cache: force``; ``x-mesh-cache: off`` bypasses the cache.

Semantic cache (opt-in per route): the redacted prompt text is embedded (the
route's ``embedding_route`` through the mesh, or a built-in hashing embedder), and
the newest entries of the (app, route) partition are compared by cosine
similarity; the best one at or above the threshold is served.
"""

from __future__ import annotations

import array
import hashlib
import json
import math
import re
from typing import Any, Sequence

from llm_mesh.wire.openai_chat import ChatCompletionRequest, message_text

_numpy: Any = None


def _np() -> Any:
    """numpy (the similarity scan is ~50x faster with it), or False; imported on the first semantic
    lookup, not at start-up: it costs ~0.3 s of every gateway cold start otherwise."""
    global _numpy
    if _numpy is None:
        try:
            import numpy
        except ImportError:  # pragma: no cover
            numpy = False
        _numpy = numpy
    return _numpy

_NOT_OUTPUT = {"user", "metadata", "stream", "stream_options"}


def exact_key(app: str, request: ChatCompletionRequest) -> str:
    body = request.model_dump(mode="json", exclude_none=True, exclude=_NOT_OUTPUT)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{app}\x00{canonical}".encode()).hexdigest()


def prompt_text(request: ChatCompletionRequest) -> str:
    return "\n".join(f"{m.role}: {message_text(getattr(m, 'content', None))}" for m in request.messages)


def semantic_partition(app: str, route: str) -> str:
    return f"{app}#{route}"


_WORD = re.compile(r"\w+")
HASH_DIMS = 512


def hashing_embedding(text: str, dims: int = HASH_DIMS) -> list[float]:
    """Feature-hashed unigrams and bigrams, L2-normalised: a deterministic local embedder."""
    vector = [0.0] * dims
    words = _WORD.findall(text.lower())
    for feature in words + [a + " " + b for a, b in zip(words, words[1:])]:
        digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        index = int.from_bytes(digest[:4], "little") % dims
        vector[index] += 1.0 if digest[4] & 1 else -1.0
    return normalise(vector)


def normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def pack(vector: Sequence[float]) -> bytes:
    return array.array("f", vector).tobytes()


def unpack(blob: bytes) -> list[float]:
    values = array.array("f")
    values.frombytes(blob)
    return values.tolist()


def best_match(query: Sequence[float], entries: list[tuple[bytes, str]], threshold: float) -> tuple[float, str] | None:
    """(similarity, value) of the most similar entry at or above ``threshold``; vectors are unit length."""
    if not entries:
        return None
    dims = len(query)
    usable = [(blob, value) for blob, value in entries if len(blob) == 4 * dims]
    if not usable:
        return None
    np = _np()
    if np:
        matrix = np.frombuffer(b"".join(blob for blob, _ in usable), dtype=np.float32).reshape(len(usable), dims)
        scores = matrix @ np.asarray(query, dtype=np.float32)
        index = int(scores.argmax())
        score = float(scores[index])
    else:
        scored = [(sum(a * b for a, b in zip(query, unpack(blob))), i) for i, (blob, _) in enumerate(usable)]
        score, index = max(scored)
    return (score, usable[index][1]) if score >= threshold else None


def cacheable_answer(completion: Any) -> bool:
    return all(choice.finish_reason in ("stop", "tool_calls", "length", None) for choice in completion.choices)
