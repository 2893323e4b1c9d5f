"""A ``--workers`` process ends when its supervisor dies.

uvicorn's supervisor stops its workers when it is stopped, but a supervisor killed with
SIGKILL (or crashed) stops nothing: the workers keep the inherited listening socket and
serve on, and a restart fails with "Address already in use". Each worker therefore
watches its parent: once the parent is gone (the worker is re-parented), it stops itself
the way the supervisor would have (SIGTERM: a graceful shutdown that drains the
background writers), and exits outright if that has not finished after ``grace`` seconds.

On Linux the kernel also signals the worker when the parent dies (``PR_SET_PDEATHSIG``),
so the stop does not wait for the next poll.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time

logger = logging.getLogger("llm_mesh.serve")

_PR_SET_PDEATHSIG = 1


def watch_parent(interval: float = 0.5, grace: float = 15.0) -> threading.Thread:
    """Start the watchdog for this process's current parent; returns its (daemon) thread."""
    parent = os.getppid()
    _ask_kernel_for_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was asked for
        parent = -1
    thread = threading.Thread(target=_watch, args=(parent, interval, grace), name="mesh-parent-watch", daemon=True)
    thread.start()
    return thread


def _ask_kernel_for_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # no libc to ask: the poll below still ends the worker
        pass


def _watch(parent: int, interval: float, grace: float) -> None:
    while os.getppid() == parent:
        time.sleep(interval)
    logger.warning("the mesh serve supervisor (pid %s) is gone; worker %s is stopping", parent, os.getpid())
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(grace)
    os._exit(1)  # the graceful stop hung (a client holding a stream open): the supervisor is not coming back
