"""Send stream frames that are ready together in one write.

Each ASGI body message costs a socket write (tens of microseconds). When an
upstream delivers several events in one read, they are all parsed before the
event loop gets control back; a pump task collects them and the response sends
them as one body message. When events arrive spaced out (a model generating
tokens), each is sent as soon as it is ready: latency never waits for batching.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator


async def coalesce(source: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    pending: list[bytes] = []
    ready = asyncio.Event()
    finished = False
    failure: BaseException | None = None

    async def pump() -> None:
        nonlocal finished, failure
        try:
            async for frame in source:
                pending.append(frame)
                ready.set()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # surfaced to the consumer below
            failure = exc
        finally:
            finished = True
            ready.set()

    task = asyncio.create_task(pump())
    try:
        while True:
            await ready.wait()
            ready.clear()
            if pending:
                batch = b"".join(pending)
                pending.clear()
                yield batch
            if finished and not pending:
                break
        if failure is not None:
            raise failure
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
