"""A deterministic embedder by feature hashing: words and word pairs, signed buckets.

Texts sharing words get similar vectors, so retrieval behaves sensibly in tests
without a model. Not semantic: synonyms do not meet.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Sequence

_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedder:
    name = "hashing"

    def __init__(self, dimensions: int = 384) -> None:
        self.dimensions = dimensions

    def vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        words = _WORD.findall(text.lower())
        features = words + [f"{a} {b}" for a, b in zip(words, words[1:])]
        for feature in features:
            digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dimensions
            vector[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(text) for text in texts]
