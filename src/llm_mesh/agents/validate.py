"""Validate tool arguments against a JSON schema: ``jsonschema`` when installed,
else a small validator covering what tool schemas use (type, properties, required,
additionalProperties, enum, const, items, min/max, minLength/maxLength)."""

from __future__ import annotations

from typing import Any

try:  # pragma: no cover - depends on the environment
    import jsonschema as _jsonschema
except ImportError:  # pragma: no cover
    _jsonschema = None

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def validate_arguments(value: Any, schema: dict[str, Any]) -> str | None:
    """None when ``value`` satisfies ``schema``, else one readable problem."""
    if _jsonschema is not None:
        try:
            _jsonschema.validate(value, schema)
        except _jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path) or "(arguments)"
            return f"{where}: {exc.message}"
        return None
    return _check(value, schema, "(arguments)")


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES.get(kind, (object,)))


def _check(value: Any, schema: Any, where: str) -> str | None:
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is(value, k) for k in kinds):
            return f"{where}: expected {' or '.join(kinds)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: must be one of {schema['enum']}"
    if "const" in schema and value != schema["const"]:
        return f"{where}: must be {schema['const']!r}"
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return f"{where}: shorter than {schema['minLength']}"
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            return f"{where}: longer than {schema['maxLength']}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where}: below {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where}: above {schema['maximum']}"
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for name in schema.get("required") or ():
            if name not in value:
                return f"{where}: missing required property {name!r}"
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                problem = _check(item, properties[name], f"{where}/{name}")
            elif extra is False:
                problem = f"{where}: unexpected property {name!r}"
            else:
                problem = _check(item, extra, f"{where}/{name}") if isinstance(extra, dict) else None
            if problem:
                return problem
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where}: more than {schema['maxItems']} items"
        for index, item in enumerate(value):
            problem = _check(item, schema.get("items"), f"{where}/{index}")
            if problem:
                return problem
    return None
