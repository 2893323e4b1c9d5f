"""Shared pieces of the hostile-input tests: example budgets and the error-shape assertions."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, Phase, settings

SHORT = os.environ.get("PROVE_SHORT") == "1"


def budget(full: int, short: int) -> Any:
    """Hypothesis settings: ``short`` examples under ``bench/prove.py --short`` (CI), else ``full``."""
    phases = [Phase.explicit, Phase.reuse, Phase.generate] if SHORT else list(Phase)  # CI: no shrinking
    return settings(max_examples=short if SHORT else full, deadline=None, derandomize=SHORT, phases=phases,
                    suppress_health_check=list(HealthCheck))


def openai_error(body: Any) -> bool:
    return (isinstance(body, dict) and set(body) == {"error"} and isinstance(body["error"], dict)
            and set(body["error"]) == {"message", "type", "param", "code"}
            and isinstance(body["error"]["message"], str) and bool(body["error"]["message"]))


def anthropic_error(body: Any) -> bool:
    return (isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)
            and isinstance(body["error"].get("type"), str) and isinstance(body["error"].get("message"), str))


def assert_error_shape(path: str, status: int, body: Any, text: str) -> None:
    assert status < 500, f"{status} from {path}: {text[:500]}"
    if 400 <= status < 500:
        ok = anthropic_error(body) if path.startswith("/v1/messages") else openai_error(body)
        assert ok, f"{status} from {path} without the error shape: {text[:500]}"
        assert "Traceback" not in text
