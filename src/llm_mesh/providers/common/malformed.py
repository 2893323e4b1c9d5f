"""Turn an upstream answer the translator cannot read into a 502, not a crash.

Response translators walk provider JSON that may be missing fields or carry the
wrong types (a null candidate, a list where an object belongs). Anything that
breaks them is the upstream's fault: the client gets an UpstreamError (502, and
the router may fail over), never a 500.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

from llm_mesh.errors import MeshError, UpstreamError

F = TypeVar("F", bound=Callable[..., Any])


def reads_upstream(provider: str) -> Callable[[F], F]:
    def decorate(translate: F) -> F:
        @functools.wraps(translate)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return translate(*args, **kwargs)
            except MeshError:
                raise
            except (TypeError, AttributeError, KeyError, IndexError, ValueError):
                raise UpstreamError(f"provider {provider} returned a response the mesh could not read") from None

        return guarded  # type: ignore[return-value]

    return decorate
