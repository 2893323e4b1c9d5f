"""JSON schema -> the OpenAPI 3.0 subset Gemini's ``Schema`` accepts. Pure functions, no I/O."""

from __future__ import annotations

import json
import re
from typing import Any

from llm_mesh.errors import InvalidRequest

_SCHEMA_KEYS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
}
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "NUMBER": {"float", "double"},
    "INTEGER": {"int32", "int64"},
}
_TYPES = {"string", "number", "integer", "boolean", "array", "object"}
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
_MAX_DEPTH = 32


def gemini_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Reduce a JSON schema to the OpenAPI 3.0 subset Gemini's ``Schema`` accepts.

    Local ``$ref``s are inlined (recursion is rejected: Gemini schemas are trees),
    ``type: [X, "null"]`` becomes ``nullable``, ``oneOf`` becomes ``anyOf``,
    ``const`` becomes a one-value ``enum``, unsupported keywords
    (``additionalProperties``, ``$schema``, ``$defs``, ``not``, ``if``...) are
    dropped, and types are written in Gemini's upper-case enum form.
    """
    definitions = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _convert(schema, definitions, 0, ())


def _resolve(ref: str, definitions: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    match = re.match(r"^#/(\$defs|definitions)/(.+)$", ref)
    if not match or match.group(2) not in definitions:
        raise InvalidRequest(f"schema reference {ref!r} cannot be resolved (only local $defs are supported)")
    if ref in seen:
        raise InvalidRequest(f"recursive schema reference {ref!r} is not supported by Gemini")
    return definitions[match.group(2)]


def _convert(node: Any, definitions: dict[str, Any], depth: int, seen: tuple[str, ...]) -> dict[str, Any]:
    if depth > _MAX_DEPTH:
        raise InvalidRequest("schema is nested too deeply")
    if not isinstance(node, dict):
        return {}
    if "$ref" in node:
        ref = node["$ref"]
        target = _resolve(ref, definitions, seen)
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _convert(merged, definitions, depth + 1, seen + (ref,))
    node = _merge_single_all_of(dict(node), definitions, seen)
    types, nullable = _declared_types(node)
    union = node.get("anyOf") or node.get("oneOf")
    if len(types) > 1:
        # A multi-type node is a union of single-type copies of itself.
        union = [{**{k: v for k, v in node.items() if k not in ("type", "anyOf", "oneOf")}, "type": t} for t in types]
        types = []
    out: dict[str, Any] = {}
    if isinstance(union, list) and union:
        nullable = _convert_union(union, out, definitions, depth, seen) or nullable
    if types:
        kind = types[0].lower()
        if kind in _TYPES:
            out["type"] = kind.upper()
    if "const" in node and "enum" not in node:
        node["enum"] = [node["const"]]
    for key, value in node.items():
        if key not in _SCHEMA_KEYS or key in ("type", "anyOf", "nullable"):
            continue
        nullable = _convert_keyword(key, value, node, out, definitions, depth, seen) or nullable
    return _complete(out, nullable)


def _merge_single_all_of(node: dict[str, Any], definitions: dict[str, Any], seen: tuple[str, ...]) -> dict[str, Any]:
    """An ``allOf`` of one schema is that schema, with the node's own keywords on top."""
    if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
        sub = node.pop("allOf")[0]
        if isinstance(sub, dict) and "$ref" in sub:
            sub = _resolve(sub["$ref"], definitions, seen)
        node = {**sub, **node}
    return node


def _declared_types(node: dict[str, Any]) -> tuple[list[str], bool]:
    """The non-null types a node declares, and whether it admits null."""
    raw_type = node.get("type")
    nullable = bool(node.get("nullable"))
    types: list[str] = []
    if isinstance(raw_type, list):
        types = [t for t in raw_type if t != "null"]
        nullable = nullable or "null" in raw_type
    elif isinstance(raw_type, str) and raw_type != "null":
        types = [raw_type]
    elif raw_type == "null":
        nullable = True
    return types, nullable


def _convert_union(
    union: list[Any], out: dict[str, Any], definitions: dict[str, Any], depth: int, seen: tuple[str, ...]
) -> bool:
    """Write a union's branches into ``out``; True when one branch is ``null`` (Gemini spells that nullable)."""
    nullable = False
    branches = []
    for branch in union:
        if isinstance(branch, dict) and branch.get("type") == "null":
            nullable = True
            continue
        branches.append(_convert(branch, definitions, depth + 1, seen))
    if len(branches) == 1:
        out.update(branches[0])
    elif branches:
        out["anyOf"] = branches
    return nullable


def _convert_keyword(
    key: str,
    value: Any,
    node: dict[str, Any],
    out: dict[str, Any],
    definitions: dict[str, Any],
    depth: int,
    seen: tuple[str, ...],
) -> bool:
    """Write one supported keyword into ``out``; True when it admits null (a ``None`` among an enum's values)."""
    if key == "properties":
        if isinstance(value, dict) and value:
            out["properties"] = {name: _convert(sub, definitions, depth + 1, seen) for name, sub in value.items()}
    elif key == "items":
        if isinstance(value, dict):
            out["items"] = _convert(value, definitions, depth + 1, seen)
    elif key == "enum":
        return _convert_enum(value, out)
    elif key == "format":
        if value in _FORMATS.get(out.get("type", ""), set()):
            out["format"] = value
    elif key == "required":
        if isinstance(value, list):
            names = set((node.get("properties") or {}).keys())
            required = [name for name in value if name in names]
            if required:
                out["required"] = required
    elif key in _COUNTS:
        if isinstance(value, int):
            out[key] = str(value)  # int64 fields are strings in the REST form
    else:
        out[key] = value
    return False


def _convert_enum(value: Any, out: dict[str, Any]) -> bool:
    """Gemini enums are strings: other values are JSON-encoded, ``None`` becomes nullable."""
    if not isinstance(value, list):
        return False
    values = [v for v in value if v is not None]
    out["enum"] = [v if isinstance(v, str) else json.dumps(v) for v in values]
    if "type" not in out:
        out["type"] = "STRING"
    return len(values) < len(value)


def _complete(out: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if out.get("enum") and out.get("type") == "STRING":
        out.setdefault("format", "enum")
    if nullable:
        out["nullable"] = True
    if "type" not in out and "anyOf" not in out:
        if "properties" in out:
            out["type"] = "OBJECT"
        elif "items" in out:
            out["type"] = "ARRAY"
    return out
