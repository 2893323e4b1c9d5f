"""PII scanner throughput and per-prompt policy cost.

    python bench/pii_scan.py [--seconds 3]

Prints the scanner's MB/s on a mixed corpus (planted PII + decoys + prose) and
the p50/p99 time to apply a full policy (all detectors, redact + mask + alert)
to distinct ~2 KB prompts (target p50 <= 0.5 ms). Also prints a reference
timing of a fixed pure-Python loop so numbers from a loaded machine can be
judged.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "policy"))

from corpus import FILLER, make_corpus  # noqa: E402

from llm_mesh.policy import InMemoryAlertSink, PolicyConfig, PolicyEngine, RedactionVault  # noqa: E402

PROSE = (
    "The quarterly report discusses revenue growth across three regions, with details in section 4.2 and the "
    "appendix. Our team reviewed the migration plan on Tuesday and agreed to move the billing service first. "
)


def reference_loop() -> float:
    t0 = time.perf_counter()
    for _ in range(200):
        sum(range(1000))
    return (time.perf_counter() - t0) * 1000


def prompts(n: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    docs = make_corpus(seed=seed, docs=n, per_doc=4)
    out = []
    for text, _ in docs:
        body = PROSE * 8
        cut = rng.randint(0, 200)
        p = body[cut : cut + 2048 - len(text)] + " " + text + " " + rng.choice(FILLER)
        out.append(p[:2048])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    engine = PolicyEngine.from_config(
        PolicyConfig(
            actions={"CREDIT_CARD": "mask", "US_SSN": ["redact", "alert"], "SECRET": "redact"},
            deny_lists=[{"terms": [f"CUST{i:05d}" for i in range(2000)] + ["Project Falcon"]}],
            custom_patterns=[{"entity_type": "EMPLOYEE_ID", "pattern": r"EMP-\d{6}"}],
        ),
        alert_sink=InMemoryAlertSink(),
    )
    print(f"load average: {os.getloadavg()[0]:.2f}  reference loop (200 x sum(range(1000))): {reference_loop():.2f} ms")

    # throughput: a mixed corpus, 1/3 PII-dense documents, 2/3 prose
    docs = [t for t, _ in make_corpus(seed=5, docs=400)]
    mixed = "\n".join(docs[i // 3] if i % 3 == 0 else PROSE for i in range(len(docs) * 3))
    blocks = [mixed[i : i + 4096] for i in range(0, len(mixed), 4096)]
    size = sum(len(b.encode()) for b in blocks)
    engine.scan(blocks[0])
    t0 = time.perf_counter()
    rounds = 0
    while time.perf_counter() - t0 < args.seconds:
        for b in blocks:
            engine.scan(b)
        rounds += 1
    elapsed = time.perf_counter() - t0
    print(f"scanner throughput: {size * rounds / elapsed / 1e6:.2f} MB/s ({size / 1e3:.0f} KB corpus x {rounds})")

    # per-prompt policy cost on distinct 2 KB prompts (phone validation cache is cold for new numbers)
    ps = prompts(2000)
    times = []
    for p in ps:
        t = time.perf_counter()
        engine.apply_to_text(p, RedactionVault())
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99)]
    print(f"apply full policy to a 2 KB prompt: p50 {p50:.3f} ms  p99 {p99:.3f} ms  (n={len(times)}, target p50 <= 0.5 ms)")
    clean = (PROSE * 12)[:2048]
    times = []
    for _ in range(2000):
        t = time.perf_counter()
        engine.apply_to_text(clean, RedactionVault())
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(f"2 KB prompt without PII: p50 {statistics.median(times):.3f} ms  p99 {times[int(len(times) * 0.99)]:.3f} ms")


if __name__ == "__main__":
    main()
