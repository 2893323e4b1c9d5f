"""Split text into overlapping chunks, preferring paragraph, then sentence, then word boundaries."""

from __future__ import annotations

import re

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _cut_point(text: str, start: int, limit: int) -> int:
    """The best place to end a chunk that starts at ``start`` and may run to ``limit``."""
    if limit >= len(text):
        return len(text)
    window = text[start:limit]
    floor = len(window) // 2  # never cut in the first half: chunks stay near the target size
    for pattern in (_PARAGRAPH, _SENTENCE_END):
        ends = [m.end() for m in pattern.finditer(window) if m.end() > floor]
        if ends:
            return start + ends[-1]
    space = window.rfind(" ", floor)
    return start + space + 1 if space > 0 else limit


def chunk_text(text: str, size: int = 800, overlap: int = 120) -> list[str]:
    """Chunks of at most ``size`` characters; consecutive chunks share about ``overlap`` characters."""
    text = re.sub(r"[ \t]+\n", "\n", text).strip()
    if not text:
        return []
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = _cut_point(text, start, start + size)
        piece = text[start:end].strip()
        if piece:
            chunks.append(piece)
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        # Start the overlap on a word boundary.
        space = text.find(" ", next_start, end)
        start = space + 1 if overlap and space != -1 else next_start
    return chunks
