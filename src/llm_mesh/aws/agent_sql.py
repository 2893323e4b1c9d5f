"""Agent SQL tools on AWS: Amazon Athena and the RDS Data API.

Both run only statements ``llm_mesh.agents.sql.check_sql`` accepts (one SELECT
or WITH over allow-listed tables), bound rows and wait time, and return the same
``QueryResult`` as the SQLite tool. boto3 is imported lazily.
"""

from __future__ import annotations

import time
from typing import Any

from llm_mesh.agents.config import AthenaDatabase, RdsDataDatabase
from llm_mesh.agents.sql import QueryResult, check_sql


def _client(service: str, client: Any) -> Any:
    if client is not None:
        return client
    import boto3

    return boto3.client(service)


class AthenaQuery:
    def __init__(self, db: AthenaDatabase, tables: Any, *, max_rows: int, timeout: float, client: Any = None) -> None:
        self.db, self.tables, self.max_rows, self.timeout = db, tuple(tables), max_rows, timeout
        self._client = client

    def query(self, sql: str) -> QueryResult:
        check_sql(sql, self.tables)
        client = self._client = _client("athena", self._client)
        request: dict[str, Any] = {
            "QueryString": sql,
            "QueryExecutionContext": {"Database": self.db.database, "Catalog": self.db.catalog},
            "WorkGroup": self.db.workgroup,
        }
        if self.db.output_location:
            request["ResultConfiguration"] = {"OutputLocation": self.db.output_location}
        execution_id = client.start_query_execution(**request)["QueryExecutionId"]
        deadline = time.monotonic() + self.timeout
        delay = 0.1
        while True:
            status = client.get_query_execution(QueryExecutionId=execution_id)["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                break
            if state in ("FAILED", "CANCELLED"):
                raise RuntimeError(f"Athena query {state.lower()}: {status.get('StateChangeReason', '')[:300]}")
            if time.monotonic() > deadline:
                client.stop_query_execution(QueryExecutionId=execution_id)
                raise TimeoutError(f"the query ran longer than {self.timeout:g} s")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        page = client.get_query_results(QueryExecutionId=execution_id, MaxResults=min(self.max_rows + 2, 1000))
        columns = [c["Name"] for c in page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
        rows = [[d.get("VarCharValue") for d in row["Data"]] for row in page["ResultSet"]["Rows"]]
        if rows and rows[0] == columns:  # Athena repeats the header as the first row
            rows = rows[1:]
        truncated = len(rows) > self.max_rows or bool(page.get("NextToken"))
        return QueryResult(columns, rows[: self.max_rows], truncated)


_FIELD_KEYS = ("stringValue", "longValue", "doubleValue", "booleanValue")


class RdsDataQuery:
    def __init__(self, db: RdsDataDatabase, tables: Any, *, max_rows: int, timeout: float, client: Any = None) -> None:
        self.db, self.tables, self.max_rows, self.timeout = db, tuple(tables), max_rows, timeout
        self._client = client

    def query(self, sql: str) -> QueryResult:
        check_sql(sql, self.tables)
        client = self._client = _client("rds-data", self._client)
        request: dict[str, Any] = {
            "resourceArn": self.db.resource_arn,
            "secretArn": self.db.secret_arn,
            "sql": sql,
            "includeResultMetadata": True,
        }
        if self.db.database:
            request["database"] = self.db.database
        response = client.execute_statement(**request)
        columns = [c.get("label") or c.get("name", "") for c in response.get("columnMetadata", [])]
        rows = []
        for record in response.get("records", [])[: self.max_rows + 1]:
            rows.append([next((f[k] for k in _FIELD_KEYS if k in f), None) for f in record])
        return QueryResult(columns, rows[: self.max_rows], len(rows) > self.max_rows)
