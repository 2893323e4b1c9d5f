"""Chat message content as Responses API input parts: one mapping, used by the inbound
Responses state (stored input items) and by the native Responses passthrough."""

from __future__ import annotations

from typing import Any


def input_parts(content: Any) -> list[dict[str, Any]]:
    """Chat content (a string or parts) -> ``input_text`` / ``input_image`` parts."""
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    parts: list[dict[str, Any]] = []
    for part in content or ():
        if part.get("type") == "image_url":
            image = part.get("image_url") or {}
            parts.append({"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail") or "auto"})
        else:
            parts.append({"type": "input_text", "text": part.get("text", "")})
    return parts
