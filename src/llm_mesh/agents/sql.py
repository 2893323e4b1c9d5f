"""Read-only SQL for agents: a statement allow-list checked on tokens, then (for
SQLite) enforced again by SQLite's own authorizer on the parsed statement.

``check_sql`` accepts exactly one SELECT (or WITH ... SELECT) statement whose
table references are all allow-listed (CTE names aside); PRAGMA, ATTACH and every
writing or schema statement are refused. ``SqliteReadOnly`` opens the file with a
``mode=ro`` URI, installs an authorizer that denies anything but reads of the
allow-listed tables (and a few harmless functions), and bounds rows and time.
Athena and the RDS Data API (``llm_mesh.aws.agent_sql``) reuse ``check_sql``.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence


class SqlRefused(ValueError):
    """The statement is not an allow-listed read; the message says why (safe to show the model)."""


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?(?:\*/|$))
  | (?P<string>'(?:[^']|'')*'?)
  | (?P<qident>"(?:[^"]|"")*"?|`[^`]*`?|\[[^\]]*\]?)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<param>[?:@$][A-Za-z0-9_]*)
  | (?P<op>\|\||<<|>>|<=|>=|==|!=|<>|[-+*/%<>=~&|(),.;])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Anything that writes, changes schema or state, or reaches outside the database.
_FORBIDDEN = frozenset(
    """
    PRAGMA ATTACH DETACH INSERT UPDATE DELETE REPLACE UPSERT MERGE CREATE DROP ALTER TRUNCATE VACUUM REINDEX ANALYZE
    BEGIN COMMIT ROLLBACK SAVEPOINT RELEASE TRANSACTION GRANT REVOKE CALL EXEC EXECUTE COPY LOAD UNLOAD INTO
    LOAD_EXTENSION READFILE WRITEFILE OUTFILE DUMPFILE
    """.split()
)
_TABLE_AFTER = frozenset({"FROM", "JOIN"})
# Keywords that end a FROM list (so a following word is not a table).
_CLAUSE = frozenset(
    """
    WHERE GROUP ORDER HAVING LIMIT OFFSET UNION INTERSECT EXCEPT WINDOW ON USING JOIN INNER LEFT RIGHT FULL CROSS
    OUTER NATURAL AS RETURNING FETCH FOR
    """.split()
)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(sql: str) -> list[Token]:
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        text = match.group()
        if kind == "string" and (len(text) < 2 or not text.endswith("'")):
            raise SqlRefused("unterminated string literal")
        if kind == "qident":
            if len(text) < 2 or text[-1] not in "\"`]":
                raise SqlRefused("unterminated quoted identifier")
            text = text[1:-1].replace('""', '"')
            kind = "ident"
        elif kind == "word":
            kind = "word"
        tokens.append(Token(kind, text))
    return tokens


def _name(token: Token) -> str | None:
    return token.text if token.kind in ("word", "ident") else None


def check_sql(sql: str, allowed_tables: Iterable[str]) -> list[str]:
    """Refuse anything but one read of allow-listed tables; returns the tables read."""
    allowed = {t.lower() for t in allowed_tables}
    tokens = tokenize(sql)
    while tokens and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise SqlRefused("empty statement")
    if any(t.text == ";" for t in tokens):
        raise SqlRefused("only one statement is allowed")
    if tokens[0].kind != "word" or tokens[0].upper not in ("SELECT", "WITH"):
        raise SqlRefused("only SELECT (or WITH ... SELECT) statements are allowed")
    for token in tokens:
        if token.kind == "word" and token.upper in _FORBIDDEN:
            raise SqlRefused(f"{token.upper} is not allowed in agent queries")
        if token.kind == "other":
            raise SqlRefused(f"unexpected character {token.text!r}")
    ctes = _cte_names(tokens)
    read: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "word" and token.upper in _TABLE_AFTER:
            i = _table_list(tokens, i + 1, allowed, ctes, read, single=token.upper == "JOIN")
            continue
        i += 1
    return read


def _cte_names(tokens: Sequence[Token]) -> set[str]:
    """Names defined by WITH name [(cols)] AS (...), at any nesting level."""
    names: set[str] = set()
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.upper == "AS" and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            j = i - 1
            if j >= 0 and tokens[j].text == ")":  # a column list: skip back to its "("
                depth = 0
                while j >= 0:
                    depth += tokens[j].text == ")"
                    depth -= tokens[j].text == "("
                    if depth == 0:
                        break
                    j -= 1
                j -= 1
            if j >= 1 and (name := _name(tokens[j])) and (tokens[j - 1].upper in ("WITH", "RECURSIVE") or tokens[j - 1].text == ","):
                names.add(name.lower())
    return names


def _table_list(tokens: Sequence[Token], i: int, allowed: set[str], ctes: set[str], read: list[str], single: bool) -> int:
    while i < len(tokens):
        token = tokens[i]
        if token.text == "(":
            return i  # a subquery: its own FROM is checked as the scan goes on
        name = _name(token)
        if name is None or (token.kind == "word" and token.upper in _CLAUSE):
            return i
        qualified = name
        schema_qualified = False
        i += 1
        while i + 1 < len(tokens) and tokens[i].text == "." and _name(tokens[i + 1]):
            qualified = _name(tokens[i + 1]) or qualified
            schema_qualified = True
            i += 2
        if i < len(tokens) and tokens[i].text == "(":
            raise SqlRefused(f"table-valued function {qualified!r} is not allowed")
        lowered = qualified.lower()
        # A CTE shadows a table of the same name only when unqualified: main.x is the real table.
        if lowered not in allowed and (schema_qualified or lowered not in ctes):
            raise SqlRefused(f"table {qualified!r} is not allow-listed for this tool")
        if schema_qualified or lowered not in ctes:
            read.append(lowered)
        # optional alias
        if i < len(tokens) and tokens[i].kind == "word" and tokens[i].upper == "AS":
            i += 1
        if i < len(tokens) and _name(tokens[i]) and not (tokens[i].kind == "word" and tokens[i].upper in _CLAUSE):
            i += 1
        if single or i >= len(tokens) or tokens[i].text != ",":
            return i
        i += 1
    return i


# ------------------------------------------------------------------ SQLite

_SAFE_FUNCTIONS = frozenset(
    """
    abs avg count max min sum total group_concat string_agg coalesce ifnull nullif iif length lower upper trim ltrim
    rtrim substr substring replace round instr like glob date time datetime julianday strftime unixepoch printf format
    typeof cast hex quote char unicode random json json_extract json_array json_object json_group_array
    json_group_object row_number rank dense_rank ntile lag lead first_value last_value percent_rank cume_dist
    """.split()
)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool

    def to_json(self) -> dict[str, Any]:
        return {"columns": self.columns, "rows": self.rows, "row_count": len(self.rows), "truncated": self.truncated}


class SqliteReadOnly:
    """One SQLite file, read-only, allow-listed tables only."""

    def __init__(self, path: str | Path, tables: Iterable[str], *, max_rows: int = 200, timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.tables = frozenset(t.lower() for t in tables)
        self.max_rows = max_rows
        self.timeout = timeout

    def _connect(self, ctes: frozenset[str] = frozenset()) -> sqlite3.Connection:
        if not self.path.is_file():
            raise FileNotFoundError(f"SQLite database {self.path.name} does not exist")
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=1.0, check_same_thread=False)
        conn.set_authorizer(lambda *args: self._authorize(ctes, *args))
        return conn

    def _authorize(self, ctes: frozenset[str], action: int, arg1: str | None, arg2: str | None, db: str | None,
                   trigger: str | None) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            table = (arg1 or "").lower()
            if db not in (None, "main"):
                return sqlite3.SQLITE_DENY
            if table in self.tables or (db is None and table in ctes):  # CTE reads come without a schema
                return sqlite3.SQLITE_OK
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return sqlite3.SQLITE_OK if (arg2 or "").lower() in _SAFE_FUNCTIONS else sqlite3.SQLITE_DENY
        if action == getattr(sqlite3, "SQLITE_RECURSIVE", 33):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    def query(self, sql: str) -> QueryResult:
        check_sql(sql, self.tables)
        conn = self._connect(frozenset(_cte_names(tokenize(sql))))
        deadline = time.monotonic() + self.timeout
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            try:
                cursor = conn.execute(sql)
                rows = cursor.fetchmany(self.max_rows + 1)
            except sqlite3.DatabaseError as exc:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the query ran longer than {self.timeout:g} s") from None
                if "not authorized" in str(exc) or "prohibited" in str(exc):
                    raise SqlRefused("the statement reads something outside the allow-listed tables") from None
                raise
            columns = [d[0] for d in cursor.description or ()]
        finally:
            conn.close()
        truncated = len(rows) > self.max_rows
        return QueryResult(columns, [list(r) for r in rows[: self.max_rows]], truncated)
