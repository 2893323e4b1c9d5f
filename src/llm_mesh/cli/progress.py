"""Progress of long CLI work, on stderr only (stdout stays machine output: CSV, JSON, tables).

Shown when stderr is a terminal, or when asked with ``--progress`` (``--no-progress`` hides
it on a terminal). On a terminal one line is redrawn in place; elsewhere (a log file, CI)
each update is its own line, at most ~20 per phase, so a long run does not flood the log.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

import click

T = TypeVar("T")
LINES_PER_PHASE = 20

progress_option = click.option(
    "--progress/--no-progress", "show_progress", default=None,
    help="progress on stderr (default: shown when stderr is a terminal; never on stdout)")


class Progress:
    def __init__(self, enabled: bool | None = None, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.tty = bool(isatty and isatty())
        self.enabled = self.tty if enabled is None else enabled
        self._open_line = False

    def _write(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            click.echo("\r\x1b[2K" + text, file=self.stream, nl=False)
            self._open_line = True
        else:
            click.echo(text, file=self.stream)

    def stage(self, text: str) -> None:
        """A step without a count ("reading the request log")."""
        self._write(text)

    def count(self, label: str, done: int, total: int | None = None, detail: str = "") -> None:
        if total:
            every = max(1, total // LINES_PER_PHASE)
            if done not in (1, total) and done % every:
                return
            text = f"{label}: {done}/{total} ({100 * done // total}%)"
        else:
            every = _power_step(done)
            if done != 1 and done % every:
                return
            text = f"{label}: {done}"
        self._write(f"{text} {detail}".rstrip())

    def iterate(self, label: str, items: Iterable[T], total: int | None = None) -> Iterator[T]:
        done = 0
        for item in items:
            done += 1
            self.count(label, done, total)
            yield item
        if done and (total is None or done != total):
            self._write(f"{label}: {done}")

    def callback(self, label: str) -> Callable[[int, int, str], None]:
        """``(done, total, detail)`` for library code that reports its own steps."""
        return lambda done, total, detail="": self.count(label, done, total, detail)

    def finish(self, text: str | None = None) -> None:
        if text:
            self._write(text)
        if self.enabled and self.tty and self._open_line:
            click.echo("", file=self.stream)
        self._open_line = False


def _power_step(done: int) -> int:
    """1, 10, 100, 1000... as the count grows: ~10 lines per order of magnitude when the total is unknown."""
    step = 1
    while done >= step * 100:
        step *= 10
    return step * 10 if done >= 10 else 1
