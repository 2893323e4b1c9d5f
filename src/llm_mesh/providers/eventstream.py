"""Shared plumbing for the boto3-backed providers (Bedrock, SageMaker).

boto3 is synchronous. Every call runs on a dedicated thread pool owned by the
provider (sized like its connection pool) so the event loop never blocks and a
burst of slow upstream calls cannot starve the loop's default executor. A
response event stream (botocore ``EventStream``, which parses the AWS
``application/vnd.amazon.eventstream`` frames and validates their CRCs) is
iterated on that pool and fed to the event loop through a bounded
``asyncio.Queue``: when the consumer is slow the producer thread waits, and when
the consumer goes away the upstream body is closed and the thread exits.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_ITEM, _END, _ERROR = 0, 1, 2


def build_boto3_client(
    service: str,
    *,
    region: str | None,
    endpoint_url: str | None,
    connect_timeout: float,
    read_timeout: float,
    max_pool_connections: int,
) -> Any:
    """One botocore client per provider, default credential chain (no profile).

    botocore's own retries are off: the mesh's router owns retries, backoff and
    failover, and a hidden retry loop would double the latency budget.
    """
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region)
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=max_pool_connections,
        retries={"total_max_attempts": 1, "mode": "standard"},
        tcp_keepalive=True,
    )
    return session.client(service, endpoint_url=endpoint_url, config=config)


class ThreadRunner:
    """Runs blocking boto3 work off the event loop on a provider-owned pool."""

    def __init__(self, name: str, max_workers: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"mesh-{name}")

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))

    async def iterate(
        self,
        events: Iterable[T],
        *,
        close: Callable[[], None] | None = None,
        maxsize: int = 64,
    ) -> AsyncIterator[T]:
        """Iterate a blocking iterable on the pool, yielding its items on the loop.

        Exceptions raised by the iterable are re-raised here, in the consumer.
        ``close`` is called if the consumer stops early (it should close the
        upstream body so a thread blocked on a socket read wakes up).
        """
        loop = asyncio.get_running_loop()
        handoff: _Handoff[T] = _Handoff(loop, asyncio.Queue(maxsize=maxsize), threading.Event())
        producer = loop.run_in_executor(self._executor, handoff.produce, events)
        finished = False
        try:
            while True:
                kind, value = await handoff.queue.get()
                if kind == _ITEM:
                    yield value
                elif kind == _ERROR:
                    finished = True
                    raise value
                else:
                    finished = True
                    return
        finally:
            handoff.stop.set()
            if not finished and close is not None:
                with contextlib.suppress(Exception):  # best effort: the stream is abandoned anyway
                    await loop.run_in_executor(None, close)
            while not handoff.queue.empty():  # unblock a producer waiting on a full queue
                handoff.queue.get_nowait()
            if finished:
                await asyncio.shield(producer)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class _Handoff(Generic[T]):
    """The producer thread's side of ``ThreadRunner.iterate``: a blocking iterable, read
    on the pool, handed item by item to the consumer's queue on the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[tuple[int, Any]], stop: threading.Event):
        self.loop = loop
        self.queue = queue
        self.stop = stop  # set by the consumer when it is done, early or not

    def put(self, kind: int, value: Any) -> bool:
        """Queue one message, waiting while the queue is full; False once the consumer is gone."""
        try:
            future = asyncio.run_coroutine_threadsafe(self.queue.put((kind, value)), self.loop)
        except RuntimeError:  # the loop is gone
            return False
        while True:
            try:
                future.result(timeout=0.25)
                return True
            except concurrent.futures.TimeoutError:
                if self.stop.is_set():
                    future.cancel()
                    return False
            except (concurrent.futures.CancelledError, RuntimeError):
                return False

    def produce(self, events: Iterable[T]) -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = iter(events)
            for item in iterator:
                if self.stop.is_set() or not self.put(_ITEM, item):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            if not self.stop.is_set():
                self.put(_ERROR, exc)
            return
        self.put(_END, None)


def client_error_parts(exc: Any) -> tuple[str, str, int | None, dict[str, str]]:
    """(code, message, http status, headers) of a botocore ClientError/EventStreamError."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error") or {}
    metadata = response.get("ResponseMetadata") or {}
    code = str(error.get("Code") or "")
    message = str(error.get("Message") or "")[:500]
    status = metadata.get("HTTPStatusCode")
    headers = {str(k).lower(): str(v) for k, v in (metadata.get("HTTPHeaders") or {}).items()}
    return code, message, status, headers


def is_timeout(exc: BaseException) -> bool:
    from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

    return isinstance(exc, (ReadTimeoutError, ConnectTimeoutError))


def is_connection_failure(exc: BaseException) -> bool:
    from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, HTTPClientError

    return isinstance(exc, (EndpointConnectionError, ConnectionClosedError, HTTPClientError))


def is_truncated_body(exc: BaseException) -> bool:
    """urllib3 raising because the upstream closed the connection mid-body."""
    try:
        from urllib3.exceptions import ProtocolError
    except ImportError:  # pragma: no cover
        return False
    from botocore.exceptions import ResponseStreamingError

    return isinstance(exc, (ProtocolError, ResponseStreamingError))
