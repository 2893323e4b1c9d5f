"""Server-sent events: incremental parsing of upstream streams, framing of ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator


@dataclass(frozen=True)
class SSEEvent:
    data: str
    event: str | None = None
    id: str | None = None


async def iter_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEEvent]:
    """Parse an SSE stream given its lines (per the WHATWG event-stream spec)."""
    data: list[str] = []
    event: str | None = None
    event_id: str | None = None
    async for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield SSEEvent("\n".join(data), event, event_id)
            data, event = [], None
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value
        elif field == "id":
            event_id = value
    if data:
        # A stream that ends without the blank line terminator still delivered this event.
        yield SSEEvent("\n".join(data), event, event_id)


def frame(data: str, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {data}\n\n".encode("utf-8")


DONE_FRAME = b"data: [DONE]\n\n"
