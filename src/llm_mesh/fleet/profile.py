"""A traffic profile from the request log: per route, requests/s, mean tokens, peak concurrency.

The planner reads one entry per fleet model, keyed by the route that serves it (a
``self_hosted`` entry implies a route of the same name). Only answered requests
(status < 400) count; a request occupies its copy from arrival for ``latency_ms``,
which gives the concurrency sweep.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from llm_mesh.fleet.config import TrafficEntry
from llm_mesh.stores.interfaces import RequestLogEntry, RequestLogStore


def entries_in_window(store: RequestLogStore, since: float, until: float, limit: int) -> list[RequestLogEntry]:
    """The log's entries with since <= timestamp < until, reading newest first up to ``limit`` rows
    (the store interface offers ``recent`` only)."""
    return [e for e in store.recent(limit) if since <= e.timestamp < until]


def peak_concurrency(entries: Iterable[RequestLogEntry]) -> int:
    events = []
    for entry in entries:
        events.append((entry.timestamp, 1))
        events.append((entry.timestamp + max(entry.latency_ms, 0.0) / 1000, -1))
    events.sort(key=lambda event: (event[0], event[1]))  # an end before a start at the same instant
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


def build_profile(entries: Iterable[RequestLogEntry], window_s: float) -> dict[str, TrafficEntry]:
    if window_s <= 0:
        raise ValueError("the profile window must be longer than zero seconds")
    by_route: dict[str, list[RequestLogEntry]] = defaultdict(list)
    for entry in entries:
        if entry.status < 400:
            by_route[entry.route].append(entry)
    profile = {}
    for route, rows in sorted(by_route.items()):
        profile[route] = TrafficEntry(
            requests_per_s=round(len(rows) / window_s, 6),
            prompt_tokens=round(sum(r.prompt_tokens for r in rows) / len(rows), 2),
            completion_tokens=round(sum(r.completion_tokens for r in rows) / len(rows), 2),
            peak_concurrency=float(peak_concurrency(rows)),
        )
    return profile


def profile_json(profile: dict[str, TrafficEntry], since: float, until: float) -> dict:
    return {"window": {"since": since, "until": until},
            "traffic": {route: entry.model_dump() for route, entry in profile.items()}}


def parse_profile(raw: dict) -> dict[str, TrafficEntry]:
    """The ``traffic`` of a ``mesh fleet profile --json`` document (or a bare route -> entry map)."""
    traffic = raw.get("traffic", raw) if isinstance(raw, dict) else None
    if not isinstance(traffic, dict):
        raise ValueError("a profile is a JSON object with a 'traffic' map of route -> entry")  # noqa: TRY004 (bad input, as from pydantic)
    return {route: TrafficEntry.model_validate(entry) for route, entry in traffic.items()}
