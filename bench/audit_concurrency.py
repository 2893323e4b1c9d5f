"""Lost audit appends under concurrency, on DynamoDB Local.

N writers (threads, each its own store instance and client, like N Lambda instances)
append M records each to ONE app-day chain through the writer the Lambda home uses
(InlineAuditWriter). Prints how many of N*M appends are stored, how many the writers
counted as failed, and whether the chain verifies.

    PYTHONPATH=src .venv/bin/python bench/audit_concurrency.py --writers 32 --appends 5
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from llm_mesh.audit.hook import InlineAuditWriter
from llm_mesh.audit.verify import verify_store
from llm_mesh.stores.dynamodb.admin import table_definition
from llm_mesh.stores.dynamodb.audit import DynamoAuditStore
from llm_mesh.stores.dynamodb.tables import AUDIT
from llm_mesh.stores.interfaces import AuditDraft
from tests.fixtures.dynamodb_local import DynamoDBLocal, check_java, find_dynamodb_local, free_port, make_client


def draft(writer: int, i: int) -> AuditDraft:
    return AuditDraft(
        partition="support#2026-12-04", record_id=f"req-{writer:03d}-{i:03d}", timestamp=1_700_000_000.0 + i,
        app="support", principal="bench", purpose=None, route="r", provider="p", model="m",
        endpoint="chat.completions", status=200, decisions={}, prompt_tokens=1, completion_tokens=1,
        cost_usd="0", latency_ms=1.0, config_version="v", payload=None,
    )


def store_factory(endpoint: str, table: str):
    import inspect

    def new_store():
        client = make_client(endpoint, max_pool_connections=4)
        kwargs = {}
        if "key" in inspect.signature(DynamoAuditStore).parameters:
            from llm_mesh.audit.keys import ChainKey

            kwargs["key"] = ChainKey(b"bench-key-bench-key-bench-key-32", key_id="bench")
        return DynamoAuditStore(client, table, **kwargs)

    return new_store


def run(endpoint: str, writers: int, appends: int) -> int:
    admin = make_client(endpoint)
    table = f"audit-bench-{uuid.uuid4().hex[:8]}"
    admin.create_table(**table_definition(AUDIT, table))
    new_store = store_factory(endpoint, table)
    stores = [new_store() for _ in range(writers)]
    audit_writers = [InlineAuditWriter(s) for s in stores]
    barrier = threading.Barrier(writers)

    def work(w: int) -> None:
        barrier.wait()
        for i in range(appends):
            audit_writers[w].write(draft(w, i))
        audit_writers[w].flush()

    started = time.monotonic()
    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    reader = new_store()
    stored = reader.partition_records("support#2026-12-04")
    failed = sum(w.failures for w in audit_writers)
    report = verify_store(reader)
    lost = writers * appends - len(stored)
    status = getattr(report, "status", "intact" if report.ok else "broken")  # main before keying has no status
    races = sum(getattr(s, "conflicts", 0) for s in stores)
    print(f"{writers} writers x {appends} appends: {len(stored)} stored, {lost} lost, "
          f"{failed} counted as failed, chain {status}, {elapsed:.1f}s,"
          f" {races} seq races lost")
    return lost


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, default=32)
    parser.add_argument("--appends", type=int, default=5)
    args = parser.parse_args()
    log_dir = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    server = DynamoDBLocal(check_java(), find_dynamodb_local(), free_port(), log_dir / "ddb.log")
    try:
        if not server.wait_ready(60):
            print(server.output())
            return 2
        return 1 if run(server.endpoint, args.writers, args.appends) else 0
    finally:
        server.stop()
        shutil.rmtree(log_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
