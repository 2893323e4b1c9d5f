"""Chain-head anchors kept where the writers cannot take them back.

The chain key stops anyone without it from re-sealing a rewritten record; the writers
hold that key, though. So every batch (or every ``interval_s`` per partition) the
writer puts the head it just appended, (partition, seq, hash), somewhere append-only:

- locally, ``audit-anchors.jsonl`` in the data directory, opened O_APPEND;
- on AWS, an S3 bucket with Object Lock in compliance mode (default retention set on
  the bucket): each anchor is a new object, put with ``If-None-Match: *``; the
  functions may PutObject only — no delete, no retention change, no versions listing.

Verification checks each partition against every anchor ever written (all object
versions on S3): a record rewritten and re-sealed at or before an anchored seq no
longer matches its anchor; a removed newest record leaves an anchor past the end.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Iterable, Protocol

from llm_mesh.stores.interfaces import AuditRecord

ANCHOR_FILE_NAME = "audit-anchors.jsonl"
BUCKET_ENV = "MESH_AUDIT_ANCHOR_BUCKET"


class AnchorSink(Protocol):
    def put(self, partition: str, seq: int, record_hash: str) -> None: ...

    def anchors(self) -> dict[str, list[tuple[int, str]]]:
        """Every anchor written, by partition."""
        ...


def _line(partition: str, seq: int, record_hash: str) -> dict[str, Any]:
    return {"partition": partition, "seq": int(seq), "hash": record_hash, "at": time.time()}


def _collect(rows: Iterable[dict[str, Any]]) -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        found.setdefault(str(row["partition"]), []).append((int(row["seq"]), str(row["hash"])))
    return found


class FileAnchorSink:
    """One JSON line per anchor; each line is one O_APPEND write (atomic for these sizes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def put(self, partition: str, seq: int, record_hash: str) -> None:
        data = (json.dumps(_line(partition, seq, record_hash), sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def anchors(self) -> dict[str, list[tuple[int, str]]]:
        if not self.path.exists():
            return {}
        lines = (line for line in self.path.read_text().splitlines() if line.strip())
        return _collect(json.loads(line) for line in lines)


class S3AnchorSink:
    """Anchors as objects ``<prefix><partition>/<seq>-<uuid>.json`` in an Object Lock bucket."""

    def __init__(self, bucket: str, prefix: str = "audit-anchors/", client: Any = None) -> None:
        if client is None:
            from llm_mesh.aws.clients import aws_client

            client = aws_client("s3")
        self.bucket, self.prefix, self._client = bucket, prefix, client

    def put(self, partition: str, seq: int, record_hash: str) -> None:
        body = json.dumps(_line(partition, seq, record_hash), sort_keys=True).encode()
        key = f"{self.prefix}{partition}/{int(seq):012d}-{uuid.uuid4().hex}.json"
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")

    def anchors(self) -> dict[str, list[tuple[int, str]]]:
        """Every version of every anchor object (an overwrite cannot hide an old one)."""
        rows = []
        for page in self._client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for version in page.get("Versions", []):
                obj = self._client.get_object(Bucket=self.bucket, Key=version["Key"], VersionId=version["VersionId"])
                rows.append(json.loads(obj["Body"].read()))
        return _collect(rows)


class Anchorer:
    """Puts the newest head of each partition a writer touched, at most every ``interval_s``
    per partition (0: after every batch). ``flush`` puts whatever is still owed."""

    def __init__(self, sink: AnchorSink, interval_s: float = 0.0, clock: Any = time.monotonic) -> None:
        self.sink, self.interval_s, self._clock = sink, interval_s, clock
        self._owed: dict[str, tuple[int, str]] = {}
        self._last_put: dict[str, float] = {}
        self._lock = threading.Lock()
        self.failures = 0

    def note(self, records: Iterable[AuditRecord]) -> None:
        with self._lock:
            for record in records:
                owed = self._owed.get(record.partition)
                if owed is None or record.seq > owed[0]:
                    self._owed[record.partition] = (record.seq, record.hash)
        self._put(due_only=True)

    def flush(self) -> None:
        self._put(due_only=False)

    def _put(self, due_only: bool) -> None:
        now = self._clock()
        with self._lock:
            due = {
                p: head for p, head in self._owed.items()
                if not due_only or now - self._last_put.get(p, float("-inf")) >= self.interval_s
            }
            for partition in due:
                del self._owed[partition]
        for partition, (seq, record_hash) in due.items():
            try:
                self.sink.put(partition, seq, record_hash)
                self._last_put[partition] = now
            except Exception:  # owed again: the next batch or flush retries it
                self.failures += 1
                with self._lock:
                    self._owed.setdefault(partition, (seq, record_hash))


def default_anchor_sink(data_dir: str | Path | None, environ: Any = None) -> AnchorSink | None:
    """S3 when ``MESH_AUDIT_ANCHOR_BUCKET`` is set, else the data directory's anchor file."""
    env = os.environ if environ is None else environ
    if env.get(BUCKET_ENV):
        return S3AnchorSink(env[BUCKET_ENV])
    if data_dir is not None:
        return FileAnchorSink(Path(data_dir) / ANCHOR_FILE_NAME)
    return None
