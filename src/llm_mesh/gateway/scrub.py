"""Keep credentials out of anything a client or a log sees.

Upstreams sometimes echo the key they were sent ("Incorrect API key provided:
sk-..."), and provider adapters copy upstream messages into mesh errors. Every
credential the providers resolve is remembered here (in memory only) and
replaced, along with anything shaped like a well-known key, in every error that
leaves a provider.
"""

from __future__ import annotations

import re
from typing import Any

from llm_mesh.errors import MeshError

_KEY_SHAPES = re.compile(
    r"(?:sk-(?:ant-|proj-|live-)?[A-Za-z0-9_\-]{12,}"
    r"|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}"
    r"|AIza[0-9A-Za-z_\-]{30,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}"
    r"|xox[abpr]-[A-Za-z0-9\-]{10,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-~+/=]{12,})"
)
REDACTED = "[REDACTED]"


class SecretScrubber:
    def __init__(self) -> None:
        self._values: set[str] = set()

    def remember(self, value: str) -> None:
        if len(value) >= 6:  # shorter values would redact ordinary words
            self._values.add(value)

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return _KEY_SHAPES.sub(REDACTED, text)

    def clean(self, error: MeshError) -> MeshError:
        """Scrub an error's message in place (and its exception args) and return it."""
        scrubbed = self.scrub(error.message)
        if scrubbed != error.message:
            error.message = scrubbed
            error.args = (scrubbed,)
        return error


class RememberingResolver:
    """Wraps a SecretResolver so every resolved credential is known to the scrubber."""

    def __init__(self, inner: Any, scrubber: SecretScrubber) -> None:
        self._inner = inner
        self._scrubber = scrubber

    def resolve(self, ref: Any) -> str:
        value = self._inner.resolve(ref)
        self._scrubber.remember(value)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
