"""Reading and validating request bodies into wire models, with OpenAI-shaped 4xx errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from llm_mesh.errors import InvalidRequest, PayloadTooLarge, RequestTimeout
from llm_mesh.wire.json_depth import MAX_JSON_DEPTH, nests_deeper_than

M = TypeVar("M", bound=BaseModel)


DEFAULT_BODY_TIMEOUT = 30.0


def _body_timeout(request: Request) -> float:
    """mesh.yaml's ``server.body_timeout_seconds`` of the app serving the request."""
    runtime = getattr(request.app.state, "runtime", None) if "app" in request.scope else None
    server = getattr(getattr(runtime, "config", None), "server", None)
    return float(getattr(server, "body_timeout_seconds", DEFAULT_BODY_TIMEOUT))


async def read_body(request: Request, limit: int) -> bytearray:
    """The raw body, at most ``limit`` bytes, arrived within the body deadline (else 408: a client
    trickling its body must not hold a connection and a worker's memory for as long as it likes)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        except ValueError:
            raise InvalidRequest("invalid Content-Length header") from None
    body = bytearray()
    deadline = _body_timeout(request)
    try:
        async with asyncio.timeout(deadline):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:
                    raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {deadline:g} s",
                             headers={"Connection": "close"}) from None
    return body


async def read_json(request: Request, limit: int) -> Any:
    body = await read_body(request, limit)
    if not body:
        raise InvalidRequest("the request body is empty; send a JSON object")
    return parse_json(body)


def parse_json(body: bytes | bytearray) -> Any:
    try:
        data = json.loads(body)
        if nests_deeper_than(data, raw=body):
            raise InvalidRequest(f"the request body is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
        if b"\\ud" in body or b"\\uD" in body:
            # JSON may escape lone UTF-16 surrogates that no UTF-8 answer can carry.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        return data
    except UnicodeEncodeError:
        raise InvalidRequest("the request body contains an unpaired UTF-16 surrogate escape") from None
    except UnicodeDecodeError:
        raise InvalidRequest("the request body is not valid UTF-8") from None
    except RecursionError:
        raise InvalidRequest(f"the request body is nested too deeply (more than {MAX_JSON_DEPTH} levels)") from None
    except ValueError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {str(exc)[:200]}") from None


def validate(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None
    except RecursionError:
        raise InvalidRequest("the request body is nested too deeply") from None


# Tags pydantic inserts into error locations for discriminated unions (message roles,
# content part types); clients know the field path, not our union layout.
_UNION_TAGS = frozenset(
    {"system", "developer", "user", "assistant", "tool", "text", "image_url", "input_audio", "file", "refusal",
     "str", "list[str]", "list[int]", "list[list[int]]", "function", "function-after[_needs_content_or_calls(), AssistantMessage]"}
)


def _param_path(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if not (isinstance(p, str) and (p in _UNION_TAGS or p.startswith(("function-", "list[", "literal["))))]
    return ".".join(parts) or None


def validation_error(exc: ValidationError) -> InvalidRequest:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    param = _param_path(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    if param:
        message = f"{param}: {message}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return InvalidRequest(message, param=param, code="invalid_value" if first["type"] != "missing" else "missing_required_parameter")
