"""Fixtures for agent tests: the fake OpenAI upstream, an orders database, a config."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.fakes.openai_upstream import start_fake_openai


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    with start_fake_openai() as upstream:
        yield upstream


@pytest.fixture(autouse=True)
def _fresh_fake(request: pytest.FixtureRequest) -> None:
    if "fake" in request.fixturenames:
        request.getfixturevalue("fake").reset()


def make_orders_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL);
        CREATE TABLE secrets (token TEXT);
        INSERT INTO orders (customer, total) VALUES ('ann', 10.5), ('bob', 20.0), ('cy', 7.25);
        INSERT INTO secrets VALUES ('s3cr3t');
        """
    )
    conn.commit()
    conn.close()
    return path


@pytest.fixture()
def orders_db(tmp_path: Path) -> Path:
    return make_orders_db(tmp_path / "orders.db")


def agent_config(base_url: str, db: Path, **agent: Any) -> dict[str, Any]:
    """Route ``chat`` to the fake; agent ``analyst`` with the SQL tool ``orders``."""
    definition = {
        "instructions": "You answer questions about orders.",
        "route": "chat",
        "tools": ["orders"],
        "max_steps": 4,
        "max_cost_usd": "1.00",
        "timeout": 30,
        **agent,
    }
    return {
        "providers": {"up": {"kind": "openai", "base_url": base_url, "api_key": {"env": "FAKE_UPSTREAM_KEY"}}},
        "routes": {"chat": {"provider": "up", "model": "gpt-4o-mini"}},
        "apps": {"test": {"routes": "*", "admin": True}, "other": {"routes": ["chat"]}},
        "agents": {
            "tools": {
                "orders": {"kind": "sql", "sqlite": str(db), "tables": ["orders"], "max_rows": 50},
                "broken": {"kind": "http", "url": "http://127.0.0.1:9/none", "allowed_hosts": ["127.0.0.1"],
                           "timeout": 2},
            },
            "definitions": {"analyst": definition},
        },
    }
