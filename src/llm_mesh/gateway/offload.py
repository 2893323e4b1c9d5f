"""Store calls that wait on a network, kept off the event loop.

SQLite answers from the local disk in microseconds, so its calls run inline: a thread hop
would cost more than the call. A store bundle whose calls cross a network (DynamoDB) says so
with ``blocking_io = True``; the gateway then runs those calls (authentication, admission,
cache reads and writes, the settlement and records of a finished request) in a worker
thread, so one slow table round trip never stalls every other request on the loop. Under
200 concurrent clients on DynamoDB Local, inline calls starved the loop until upstream calls
timed out (504s); off the loop, none do (bench/prove_dynamodb.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def blocking_io(stores: Any) -> bool:
    """Whether the bundle's calls wait on a network (``StoreBundle.blocking_io``; default no)."""
    return bool(getattr(stores, "blocking_io", False))


def blocking_reads(stores: Any) -> bool:
    """Whether the bundle's reads wait too (``StoreBundle.blocking_reads``; default: as its writes).
    SQLite's writes can wait on a lock, its reads never do (WAL): a key lookup runs inline there."""
    return bool(getattr(stores, "blocking_reads", blocking_io(stores)))


async def off_loop(blocking: bool, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``call(*args, **kwargs)``: in a worker thread when ``blocking``, inline otherwise."""
    if blocking:
        return await asyncio.to_thread(call, *args, **kwargs)
    return call(*args, **kwargs)
