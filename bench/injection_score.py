"""Prompt-injection screening: detection and false-positive rates on a generated corpus.

    python bench/injection_score.py [--size 2000] [--seed 7] [--threshold 0.5]

Runs the mesh's own ``InjectionDetector`` (the heuristics, no classifier) over the attacks
and benign look-alikes of ``bench/corpora/injection_corpus.py`` and prints the detection
rate per kind (English, five other languages, nine obfuscations) and the false-positive
rate on the look-alikes, at the screen's default threshold.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora.injection_corpus import generate  # noqa: E402

from llm_mesh.policy.injection import InjectionDetector  # noqa: E402


def score(size: int, seed: int, threshold: float) -> dict[str, tuple[int, int]]:
    """kind -> (flagged, total); the benign look-alikes are kind ``benign``."""
    detector = InjectionDetector()
    flagged: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for sample in generate(size, seed):
        total[sample.kind] += 1
        if detector.scan(sample.text).score >= threshold:
            flagged[sample.kind] += 1
    return {kind: (flagged[kind], total[kind]) for kind in sorted(total)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args()
    started = time.perf_counter()
    result = score(args.size, args.seed, args.threshold)
    elapsed = time.perf_counter() - started
    attacks = [(f, t) for kind, (f, t) in result.items() if kind != "benign"]
    hit, n = sum(f for f, _ in attacks), sum(t for _, t in attacks)
    fp, benign = result.get("benign", (0, 0))
    print(f"{'kind':<12} {'flagged':>8} {'total':>6} {'rate':>7}")
    for kind, (f, t) in result.items():
        print(f"{kind:<12} {f:>8} {t:>6} {f / t:>7.1%}")
    print(f"detection {hit / n:.1%} ({hit}/{n}); false positives {fp / benign:.1%} ({fp}/{benign}); "
          f"{elapsed:.2f}s for {n + benign} texts")


if __name__ == "__main__":
    main()
