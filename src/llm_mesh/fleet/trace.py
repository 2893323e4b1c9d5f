"""Request traces for the fleet simulator: seeded synthetic ones, and their CSV file form.

A trace is a list of requests, each with its arrival time (seconds from the start), the
fleet model it asks for, and its prompt and completion token counts. ``synthetic_trace``
draws one from a traffic profile: Poisson arrivals at each model's ``requests_per_s``
and log-normal token sizes around its means (sigma 0.5, so a few requests are several
times the mean, as real prompts are), clipped to the model's ``max_context``.
"""

from __future__ import annotations

import csv
import io
import math
import random
from dataclasses import dataclass
from pathlib import Path

from llm_mesh.fleet.config import FleetSection, TrafficEntry

FIELDS = ("arrival_s", "model", "prompt_tokens", "completion_tokens")
SIGMA = 0.5


@dataclass(frozen=True)
class TraceRequest:
    arrival_s: float
    model: str
    prompt_tokens: int
    completion_tokens: int


def _lognormal(rng: random.Random, mean: float) -> int:
    """A log-normal draw with the given mean (mu shifted by -sigma^2/2), at least 1."""
    if mean <= 0:
        return 1
    return max(1, round(rng.lognormvariate(math.log(mean) - SIGMA**2 / 2, SIGMA)))


def synthetic_trace(fleet: FleetSection, duration_s: float, seed: int,
                    profile: dict[str, TrafficEntry] | None = None) -> list[TraceRequest]:
    traffic = profile if profile is not None else fleet.traffic
    rng = random.Random(seed)
    requests: list[TraceRequest] = []
    for name in sorted(traffic):
        entry, limit = traffic[name], fleet.models[name].max_context
        clock = 0.0
        while entry.requests_per_s > 0:
            clock += rng.expovariate(entry.requests_per_s)
            if clock >= duration_s:
                break
            prompt = min(_lognormal(rng, entry.prompt_tokens), limit - 1)
            completion = min(_lognormal(rng, entry.completion_tokens), limit - prompt)
            requests.append(TraceRequest(round(clock, 4), name, prompt, completion))
    return sorted(requests, key=lambda r: (r.arrival_s, r.model))


def trace_csv(requests: list[TraceRequest]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in requests:
        writer.writerow((f"{r.arrival_s:.4f}", r.model, r.prompt_tokens, r.completion_tokens))
    return out.getvalue()


def read_trace(path: str | Path) -> list[TraceRequest]:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and set(rows[0]) != set(FIELDS):
        raise ValueError(f"{path}: a trace has the columns {', '.join(FIELDS)}")
    return [TraceRequest(float(row["arrival_s"]), row["model"], int(row["prompt_tokens"]),
                         int(row["completion_tokens"])) for row in rows]
