"""Agent tools: what the model is shown (name, description, JSON schema) and how a
call runs. Every failure becomes a ``ToolFailure`` whose message is safe to feed
back to the model; the run goes on.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

from llm_mesh.agents.config import DelegateTool, HttpTool, KnowledgeBaseTool, SqlTool, ToolConfig
from llm_mesh.agents.sql import SqliteReadOnly, SqlRefused
from llm_mesh.agents.validate import validate_arguments

if TYPE_CHECKING:
    from llm_mesh.agents.env import AgentEnv

MAX_TOOL_OUTPUT_CHARS = 32_000  # unless the tool sets its own (max_result_bytes, max_response_bytes)


class ToolFailure(Exception):
    """A tool call that did not produce a result; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class KnowledgeSearch(Protocol):
    """What the knowledge-base tool needs from the knowledge-base service."""

    async def search(self, knowledge_base: str, query: str, *, k: int, app: str) -> list[dict[str, Any]]:
        """Top hits, each with at least ``text`` (and ``id``, ``title``, ``source``, ``score`` when known);
        raises PermissionError when ``app`` may not read the knowledge base."""
        ...


_QUERY = {"type": "object", "properties": {"query": {"type": "string", "minLength": 1}}, "required": ["query"]}
_TASK = {"type": "object", "properties": {"task": {"type": "string", "minLength": 1}}, "required": ["task"]}


def tool_schema(name: str, tool: ToolConfig) -> dict[str, Any]:
    """The OpenAI ``tools[]`` entry the model sees."""
    if isinstance(tool, KnowledgeBaseTool):
        description = tool.description or f"Search the {tool.knowledge_base} knowledge base; returns relevant passages."
        parameters = _QUERY
    elif isinstance(tool, SqlTool):
        description = (tool.description or "Run one read-only SQL SELECT.") + (
            f" Tables: {', '.join(tool.tables)}. Dialect: {tool.backend}. At most {tool.max_rows} rows."
        )
        parameters = _QUERY
    elif isinstance(tool, HttpTool):
        description = tool.description or f"Call {urlsplit(tool.url).hostname}."
        parameters = tool.parameters
    else:
        target = f"agent {tool.agent}" if tool.agent else f"model route {tool.route}"
        description = tool.description or f"Hand a self-contained sub-task to the {target}; returns its answer."
        parameters = _TASK
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def parse_arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        raise ToolFailure("invalid_arguments", "the arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise ToolFailure("invalid_arguments", "the arguments must be a JSON object")
    return value


def output_limit(tool: ToolConfig) -> int:
    """The most of a tool's output the model is shown: the tool's own size setting when it has one."""
    if isinstance(tool, SqlTool):
        return max(MAX_TOOL_OUTPUT_CHARS, tool.max_result_bytes)
    if isinstance(tool, HttpTool):
        return max(MAX_TOOL_OUTPUT_CHARS, tool.max_response_bytes)
    return MAX_TOOL_OUTPUT_CHARS


def _cap(text: str, limit: int) -> str:
    marker = "\n[truncated]"
    if len(text) <= limit or (text.endswith(marker) and len(text) <= limit + len(marker)):
        return text
    return text[:limit] + marker


async def execute_tool(env: "AgentEnv", run: dict[str, Any], name: str, tool: ToolConfig, arguments: dict[str, Any]) -> str:
    schema = tool.parameters if isinstance(tool, HttpTool) else tool_schema(name, tool)["function"]["parameters"]
    problem = validate_arguments(arguments, schema)
    if problem:
        raise ToolFailure("invalid_arguments", problem)
    try:
        if isinstance(tool, KnowledgeBaseTool):
            coro = _knowledge(env, run, tool, arguments["query"])
        elif isinstance(tool, SqlTool):
            coro = _sql(env, tool, arguments["query"])
        elif isinstance(tool, HttpTool):
            coro = _http(env, tool, arguments)
        else:
            coro = _delegate(env, run, tool, arguments["task"])
        return _cap(await asyncio.wait_for(coro, tool.timeout), output_limit(tool))
    except ToolFailure:
        raise
    except asyncio.TimeoutError:
        raise ToolFailure("tool_timeout", f"the tool did not answer within {tool.timeout:g} s") from None


# ------------------------------------------------------------------ knowledge base
async def _knowledge(env: "AgentEnv", run: dict[str, Any], tool: KnowledgeBaseTool, query: str) -> str:
    if env.knowledge is None:
        raise ToolFailure("unavailable", "knowledge-base search is not configured in this mesh")
    try:
        hits = await env.knowledge.search(tool.knowledge_base, query, k=tool.top_k, app=run["app"])
    except PermissionError:
        raise ToolFailure("permission_denied", f"this app may not read the {tool.knowledge_base} knowledge base") from None
    return json.dumps({"results": hits}, ensure_ascii=False, default=str)


# ------------------------------------------------------------------ SQL
def sql_executor(tool: SqlTool) -> Any:
    if tool.sqlite is not None:
        # The CLI sets MESH_CONFIG_DIR: a relative path in mesh.yaml is relative to that file.
        path = Path(os.environ.get("MESH_CONFIG_DIR", ".")) / tool.sqlite
        return SqliteReadOnly(str(path), tool.tables, max_rows=tool.max_rows, timeout=tool.timeout)
    from llm_mesh.aws.agent_sql import AthenaQuery, RdsDataQuery

    if tool.athena is not None:
        return AthenaQuery(tool.athena, tool.tables, max_rows=tool.max_rows, timeout=tool.timeout)
    return RdsDataQuery(tool.rds_data, tool.tables, max_rows=tool.max_rows, timeout=tool.timeout)  # type: ignore[arg-type]


async def _sql(env: "AgentEnv", tool: SqlTool, query: str) -> str:
    executor = env.sql_executor(tool)
    try:
        result = await asyncio.to_thread(executor.query, query)
    except SqlRefused as exc:
        raise ToolFailure("sql_refused", str(exc)) from None
    except TimeoutError as exc:
        raise ToolFailure("tool_timeout", str(exc)) from None
    except Exception as exc:  # the database's own message (syntax errors...) helps the model fix its query
        raise ToolFailure("sql_error", f"{type(exc).__name__}: {str(exc)[:300]}") from None
    text = json.dumps(result.to_json(), ensure_ascii=False, default=str)
    if len(text) > tool.max_result_bytes:
        text = text[: tool.max_result_bytes] + "\n[truncated]"
    return text


# ------------------------------------------------------------------ HTTP
def build_url(tool: HttpTool, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Fill ``{name}`` placeholders (URL-quoted, so no argument can change the host); the rest
    become query parameters (GET) or the JSON body (POST)."""
    rest = dict(arguments)
    url = tool.url
    for key in list(rest):
        marker = "{" + key + "}"
        if marker in url:
            url = url.replace(marker, quote(str(rest.pop(key)), safe=""))
    if "{" in url:
        raise ToolFailure("invalid_arguments", "an argument the URL needs is missing")
    host = (urlsplit(url).hostname or "").lower()
    if host not in {h.lower() for h in tool.allowed_hosts}:
        raise ToolFailure("host_not_allowed", f"host {host!r} is not allow-listed for this tool")
    return url, rest


async def _http(env: "AgentEnv", tool: HttpTool, arguments: dict[str, Any]) -> str:
    import httpx

    url, rest = build_url(tool, arguments)
    headers = {"user-agent": "llm-mesh-agent/1", **tool.headers}
    if tool.auth is not None:
        headers[tool.auth.header] = tool.auth.prefix + env.secrets.resolve(tool.auth.secret)
    request: dict[str, Any] = {"headers": headers}
    if tool.method == "GET":
        request["params"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in rest.items()}
    else:
        request["json"] = rest
    try:
        async with httpx.AsyncClient(timeout=tool.timeout, follow_redirects=False) as client:
            async with client.stream(tool.method, url, **request) as response:
                body = bytearray()
                async for piece in response.aiter_bytes():
                    body.extend(piece)
                    if len(body) > tool.max_response_bytes:
                        break
    except httpx.TimeoutException:
        raise ToolFailure("tool_timeout", f"the API did not answer within {tool.timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolFailure("http_error", f"the API could not be reached ({type(exc).__name__})") from None
    truncated = len(body) > tool.max_response_bytes
    text = bytes(body[: tool.max_response_bytes]).decode("utf-8", "replace")
    if response.status_code >= 300:
        raise ToolFailure("http_status", f"the API answered HTTP {response.status_code}: {text[:300]}")
    return text + ("\n[truncated]" if truncated else "")


# ------------------------------------------------------------------ delegation
async def _delegate(env: "AgentEnv", run: dict[str, Any], tool: DelegateTool, task: str) -> str:
    """Through the env's delegation port (the runner provides it): tools never import the
    handlers or the runner that call them."""
    depth = int(run.get("depth", 0)) + 1
    if depth > env.section.max_delegation_depth:
        raise ToolFailure("delegation_depth", f"delegation deeper than {env.section.max_delegation_depth} is not allowed")
    if env.delegate is None:
        raise ToolFailure("delegation_unavailable", "this runtime cannot delegate to another agent or route")
    return await env.delegate(env, run, tool, task, depth)
