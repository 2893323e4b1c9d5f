"""How deeply a parsed JSON value nests, checked before the mesh builds wire models from it.

pydantic serializes at most ~255 levels (the model's own levels included) and raises
past that, so a request or an upstream answer nested deeper would pass validation and
fail later, after budgets were reserved or the upstream was paid. Real bodies nest a
handful of levels (a JSON schema in a tool definition a few dozen at most);
``MAX_JSON_DEPTH`` leaves room for that and for the wire models around it.
"""

from __future__ import annotations

from typing import Any

MAX_JSON_DEPTH = 128


def nests_deeper_than(value: Any, limit: int = MAX_JSON_DEPTH, raw: str | bytes | bytearray | None = None) -> bool:
    """True when ``value`` has containers nested more than ``limit`` levels.

    ``raw`` (the bytes ``value`` was parsed from) makes the common case free: a body
    with fewer brackets than ``limit`` cannot nest that deep, and counting bytes is
    C-fast. Otherwise an iterative walk (no recursion to overflow) visits each
    container once.
    """
    if isinstance(raw, str) and raw.count("[") + raw.count("{") <= limit:
        return False
    if isinstance(raw, (bytes, bytearray)) and raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
