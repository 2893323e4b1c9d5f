"""Tools in isolation: SQL allow-list and read-only SQLite, HTTP host allow-list, argument schemas."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from llm_mesh.agents.config import AgentsSection, HttpTool
from llm_mesh.agents.env import AgentEnv
from llm_mesh.agents.sql import SqliteReadOnly, SqlRefused, check_sql
from llm_mesh.agents.tools import ToolFailure, build_url, execute_tool
from llm_mesh.agents.validate import validate_arguments

TABLES = ["orders", "customers"]


@pytest.mark.parametrize("sql", [
    "select * from orders",
    "SELECT o.id FROM orders o JOIN customers AS c ON o.c = c.id WHERE o.total > 1",
    "with t(x) as (select id from orders) select x from t",
    "select (select count(*) from customers) from orders;",
    "select 'DROP TABLE x; --' from orders",
])
def test_allowed_statements(sql: str) -> None:
    check_sql(sql, TABLES)


@pytest.mark.parametrize("sql, reason", [
    ("select * from secrets", "not allow-listed"),
    ("pragma table_info(orders)", "only SELECT"),
    ("select 1 from orders; drop table orders", "one statement"),
    ("attach database 'x' as y", "only SELECT"),
    ("select * from orders where id in (select token from secrets)", "not allow-listed"),
    ("with x as (select 1) insert into orders select * from x", "INSERT"),
    ("select * from json_each('[1]')", "table-valued"),
    ("select * from main.sqlite_master", "not allow-listed"),
    ("select load_extension('x') from orders", "LOAD_EXTENSION"),
    ("select * from orders, secrets", "not allow-listed"),
    ("with secrets as (select 1) select count(*) from main.secrets", "not allow-listed"),
])
def test_refused_statements(sql: str, reason: str) -> None:
    with pytest.raises(SqlRefused, match=reason):
        check_sql(sql, TABLES)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "d.db"
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE orders (id INTEGER, total REAL); CREATE TABLE secrets (t TEXT);"
                       "INSERT INTO orders VALUES (1, 1.0), (2, 2.0), (3, 3.0); INSERT INTO secrets VALUES ('x');"
                       "CREATE VIEW leak AS SELECT t FROM secrets;")
    conn.commit()
    conn.close()
    return path


def test_sqlite_read_only_row_limit_and_authorizer(db: Path) -> None:
    tool = SqliteReadOnly(db, ["orders", "leak"], max_rows=2)
    result = tool.query("SELECT id FROM orders ORDER BY id")
    assert result.rows == [[1], [2]] and result.truncated
    # The authorizer enforces the allow-list on what SQLite actually reads (a view over secrets).
    with pytest.raises(SqlRefused):
        tool.query("SELECT t FROM leak")
    with pytest.raises(SqlRefused):
        tool.query("WITH orders AS (SELECT t FROM secrets) SELECT * FROM orders")
    assert tool.query("WITH big AS (SELECT id FROM orders WHERE total > 1) SELECT count(*) FROM big").rows == [[2]]
    # Read-only at the connection level too.
    conn = tool._connect()
    conn.set_authorizer(None)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("INSERT INTO orders VALUES (9, 9)")
    conn.close()


def test_sqlite_time_limit(db: Path) -> None:
    tool = SqliteReadOnly(db, ["orders"], timeout=0.2)
    slow = ("WITH RECURSIVE r(n) AS (SELECT 1 FROM orders UNION ALL SELECT n + 1 FROM r) "
            "SELECT count(*) FROM r")
    with pytest.raises(TimeoutError):
        tool.query(slow)


def test_http_tool_config_keeps_the_host_fixed() -> None:
    with pytest.raises(ValueError, match="not in allowed_hosts"):
        HttpTool(kind="http", url="https://evil.example/x", allowed_hosts=["api.example"])
    with pytest.raises(ValueError, match="never in the host"):
        HttpTool(kind="http", url="https://{host}/x", allowed_hosts=["api.example"])
    tool = HttpTool(kind="http", url="https://api.example/v1/{city}", allowed_hosts=["api.example"])
    url, rest = build_url(tool, {"city": "../../@evil.example/x?y=", "days": 3})
    assert url.startswith("https://api.example/v1/") and "evil.example/" not in url.split("/v1/")[1].split("%")[0]
    assert rest == {"days": 3}


def test_argument_validation() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 7}},
              "required": ["city"], "additionalProperties": False}
    assert validate_arguments({"city": "Paris", "days": 3}, schema) is None
    assert "city" in (validate_arguments({"days": 3}, schema) or "")
    assert validate_arguments({"city": "P", "days": 9}, schema)
    assert validate_arguments({"city": "P", "x": 1}, schema)
    assert validate_arguments({"city": 1}, schema)


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"x" * 5000 if "big" in self.path else json.dumps({"path": self.path}).encode()
        status = 500 if "fail" in self.path else 200
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _env() -> Any:
    class Env:
        section = AgentsSection()
        secrets = None
        knowledge = None

    return Env()


def test_http_tool_calls_caps_and_fails_clearly(api: str) -> None:
    params = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tool = HttpTool(kind="http", url=f"http://{api}/search", allowed_hosts=["127.0.0.1"], parameters=params,
                    max_response_bytes=1000)
    run = {"app": "a", "principal": "", "run_id": "r", "agent": "x"}
    out = asyncio.run(execute_tool(_env(), run, "t", tool, {"q": "hello world"}))
    assert json.loads(out)["path"] == "/search?q=hello+world"
    with pytest.raises(ToolFailure) as info:
        asyncio.run(execute_tool(_env(), run, "t", tool, {}))
    assert info.value.code == "invalid_arguments"
    big = HttpTool(kind="http", url=f"http://{api}/big", allowed_hosts=["127.0.0.1"], max_response_bytes=1000)
    assert asyncio.run(execute_tool(_env(), run, "t", big, {})).endswith("[truncated]")
    failing = HttpTool(kind="http", url=f"http://{api}/fail", allowed_hosts=["127.0.0.1"])
    with pytest.raises(ToolFailure) as info:
        asyncio.run(execute_tool(_env(), run, "t", failing, {}))
    assert info.value.code == "http_status"


def test_knowledge_tool_uses_the_search_protocol() -> None:
    from llm_mesh.agents.config import KnowledgeBaseTool

    class Search:
        async def search(self, knowledge_base: str, query: str, *, k: int, app: str) -> list[dict[str, Any]]:
            if app != "a":
                raise PermissionError
            return [{"id": "c1", "title": "Refunds", "text": f"{knowledge_base}:{query}:{k}", "score": 0.9}]

    env = _env()
    env.knowledge = Search()
    tool = KnowledgeBaseTool(kind="knowledge_base", knowledge_base="handbook", top_k=2)
    out = json.loads(asyncio.run(execute_tool(env, {"app": "a"}, "kb", tool, {"query": "refund"})))
    assert out["results"][0]["text"] == "handbook:refund:2"
    with pytest.raises(ToolFailure) as info:
        asyncio.run(execute_tool(env, {"app": "b"}, "kb", tool, {"query": "refund"}))
    assert info.value.code == "permission_denied"


def test_agent_env_rejects_dangling_references() -> None:
    from llm_mesh.config import parse_config

    config = parse_config({
        "providers": {"e": {"kind": "echo"}}, "routes": {"r": {"provider": "e", "model": "m"}},
        "agents": {"definitions": {"a": {"route": "nope", "tools": ["ghost"]}}},
    })
    with pytest.raises(ValueError, match="unknown route 'nope'.*unknown tool 'ghost'"):
        AgentEnv(config=config, service=None)
