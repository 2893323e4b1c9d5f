"""A crash journal for a background writer's queue: what a response depended on survives SIGKILL.

The request path hands records (request-log entries, audit drafts) to a background thread
that writes them to the store in batches. A process killed between the answer and the
batch would lose them, so every record is also appended to a journal segment first: one
``os.write`` of a JSON line on an ``O_APPEND`` file, which is in the kernel once the call
returns and survives the process dying (not the machine losing power).

Segments belong to a process, which holds an exclusive ``flock`` on its ``.lock`` file for
its lifetime. The writer rotates to a new segment before each drain and deletes the old one
once everything in it is in the store. A writer that starts over the same directory claims
the segments of every owner whose lock it can take (that process is gone), re-journals
their records as its own and queues them again: stores make the replay idempotent
(request ids are keys; audit drafts already in the chain are skipped by the writer).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

logger = logging.getLogger("llm_mesh.journal")

T = TypeVar("T")


def dataclass_codec(cls: type[T]) -> tuple[Callable[[T], dict[str, Any]], Callable[[dict[str, Any]], T]]:
    """(encode, decode) for a flat dataclass of JSON values. Encoding reads the fields
    (``dataclasses.asdict`` deep-copies every value: ~10x slower on the request path)."""
    names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]

    def encode(item: T) -> dict[str, Any]:
        return {name: getattr(item, name) for name in names}

    return encode, lambda raw: cls(**raw)  # type: ignore[arg-type]


class Journal(Generic[T]):
    def __init__(self, directory: str | Path, name: str, codec: tuple[Callable[[T], dict], Callable[[dict], T]]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self._encode, self._decode = codec
        self._owner = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_fd = os.open(self.directory / f"{self._owner}.lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        self._mutex = threading.Lock()
        self._sequence = 0
        self._closed = False
        self._fd = self._open_segment()

    def _segment_path(self, owner: str, sequence: int) -> Path:
        return self.directory / f"{owner}.{sequence:08d}.jsonl"

    def _open_segment(self) -> int:
        return os.open(self._segment_path(self._owner, self._sequence), os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)

    def append(self, item: T, then: Callable[[], None] | None = None) -> None:
        """Journal ``item``; ``then`` (queueing it) runs before any rotation can retire its segment."""
        line = (json.dumps(self._encode(item), separators=(",", ":"), default=str) + "\n").encode()
        with self._mutex:
            if not self._closed:  # after a clean stop nothing is left to recover
                os.write(self._fd, line)
            if then is not None:
                then()

    def rotate(self) -> int:
        """Start a new segment; returns the old one's number, to ``retire`` once handled."""
        with self._mutex:
            if self._closed:
                return self._sequence
            old, old_fd = self._sequence, self._fd
            self._sequence += 1
            self._fd = self._open_segment()
        os.close(old_fd)
        return old

    def retire(self, sequence: int) -> None:
        try:
            os.unlink(self._segment_path(self._owner, sequence))
        except FileNotFoundError:
            pass

    def recover(self) -> list[T]:
        """Records journaled by processes that are gone, now re-journaled as this one's."""
        recovered: list[T] = []
        for lock_path in sorted(self.directory.glob(f"{self.name}-*.lock")):
            owner = lock_path.stem
            if owner == self._owner:
                continue
            items = self._claim(owner, lock_path)
            recovered.extend(items)
        return recovered

    def _claim(self, owner: str, lock_path: Path) -> list[T]:
        try:
            fd = os.open(lock_path, os.O_RDWR)
        except FileNotFoundError:
            return []
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return []  # its process is alive and writing
            items: list[T] = []
            segments = sorted(self.directory.glob(f"{owner}.*.jsonl"))
            for segment in segments:
                items.extend(self._read(segment))
            for item in items:
                self.append(item)  # ours now, before their files go
            for segment in segments:
                segment.unlink(missing_ok=True)
            lock_path.unlink(missing_ok=True)
            if items:
                logger.warning("recovered %d %s record(s) journaled by a process that stopped (%s)",
                               len(items), self.name, owner)
            return items
        finally:
            os.close(fd)

    def _read(self, segment: Path) -> list[T]:
        items: list[T] = []
        for line in segment.read_bytes().splitlines():
            try:
                items.append(self._decode(json.loads(line)))
            except (ValueError, TypeError):  # a line torn by the crash: the record was never acknowledged
                logger.warning("skipped a torn line in %s", segment)
        return items

    def close(self) -> None:
        """A clean stop: everything was handled, so the segments and the lock go. Idempotent
        (writers close explicitly and again at exit)."""
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            os.close(self._fd)
            try:
                for segment in self.directory.glob(f"{self._owner}.*.jsonl"):
                    segment.unlink(missing_ok=True)
                (self.directory / f"{self._owner}.lock").unlink(missing_ok=True)
            finally:
                os.close(self._lock_fd)
