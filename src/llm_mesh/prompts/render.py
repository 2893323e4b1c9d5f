"""Render a prompt version with the request's variables: ``{{ name }}`` placeholders."""

from __future__ import annotations

import re
from typing import Any, Mapping

from llm_mesh.errors import InvalidRequest
from llm_mesh.prompts.config import PromptSpec

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def placeholders(spec: PromptSpec) -> list[str]:
    seen: dict[str, None] = {}
    for message in spec.messages:
        for match in PLACEHOLDER.finditer(message.content):
            seen.setdefault(match.group(1))
    return list(seen)


def render(label: str, spec: PromptSpec, variables: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The template's messages with every placeholder filled; a clear 400 names what is missing."""
    given = dict(variables or {})
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in placeholders(spec):
        if name in given:
            value = given[name]
            if not isinstance(value, (str, int, float, bool)):
                raise InvalidRequest(f"variable {name!r} of prompt {label} must be a string or a number", param=f"variables.{name}", code="invalid_variable")
            values[name] = str(value)
        elif name in spec.variables and spec.variables[name].default is not None:
            values[name] = spec.variables[name].default  # type: ignore[assignment]
        else:
            missing.append(name)
    if missing:
        names = ", ".join(repr(m) for m in missing)
        raise InvalidRequest(
            f"prompt {label} needs the variable{'s' if len(missing) > 1 else ''} {names}; send them as \"variables\" in the request body",
            param=f"variables.{missing[0]}", code="missing_variable")
    return [{"role": m.role, "content": PLACEHOLDER.sub(lambda match: values[match.group(1)], m.content)} for m in spec.messages]
