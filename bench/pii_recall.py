"""PII detection recall/precision on a generated multi-locale corpus (bench/corpora).

    python bench/pii_recall.py [--size 3000] [--seed 11] [--lookalikes 2000]

Runs the real policy engine (the default policy: every detector, redact everything)
over clean samples, the same kind of samples with disguised values (other Unicode
digits, fullwidth and mathematical letters, zero-width and bidi characters, odd
separators, glued addresses), and look-alike-only sentences (order ids, amounts,
dates, versions, timestamps, tracking numbers). Prints per-type recall and
precision, the look-alike false-positive rate per kind, and whether every redacted
text restores to its exact original.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpora.pii_corpus import Sample, generate, generate_lookalikes  # noqa: E402

from llm_mesh.policy import PolicyConfig, PolicyEngine, RedactionVault  # noqa: E402

_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _core(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without invisible characters at its edges (a finding may leave those out)."""
    while start < end and text[start] in _INVISIBLE:
        start += 1
    while end > start and text[end - 1] in _INVISIBLE:
        end -= 1
    return start, end


@dataclass
class Score:
    planted: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    tp_findings: Counter = field(default_factory=Counter)
    all_findings: Counter = field(default_factory=Counter)
    looks: Counter = field(default_factory=Counter)
    look_hits: Counter = field(default_factory=Counter)
    restore_fail: int = 0
    misses: list = field(default_factory=list)
    false_pos: list = field(default_factory=list)

    def recall(self, t: str) -> float:
        return self.found[t] / self.planted[t] if self.planted[t] else float("nan")

    def precision(self, t: str) -> float:
        return self.tp_findings[t] / self.all_findings[t] if self.all_findings[t] else 1.0

    def lookalike_fp(self) -> float:
        total = sum(self.looks.values())
        return sum(self.look_hits.values()) / total if total else 0.0


def score(engine: PolicyEngine, samples: list[Sample], result: Score | None = None) -> Score:
    s = result or Score()
    for sample in samples:
        text = sample.text
        findings = engine.scan(text)
        for e in sample.entities:
            s.planted[e.kind] += 1
            cs, ce = _core(text, e.start, e.end)
            if any(f.entity_type == e.kind and f.start <= cs and f.end >= ce for f in findings):
                s.found[e.kind] += 1
            else:
                s.misses.append((e.kind, text[e.start : e.end], text))
        for f in findings:
            s.all_findings[f.entity_type] += 1
            if any(e.kind == f.entity_type and f.start < e.end and e.start < f.end for e in sample.entities):
                s.tp_findings[f.entity_type] += 1
            else:
                s.false_pos.append((f.entity_type, text[f.start : f.end], text))
        for look in sample.lookalikes:
            s.looks[look.kind] += 1
            if any(f.start < look.end and look.start < f.end for f in findings):
                s.look_hits[look.kind] += 1
        vault = RedactionVault()
        redacted, _ = engine.apply_to_text(text, vault)
        if vault.restore(redacted) != text:
            s.restore_fail += 1
    return s


def table(clean: Score, hidden: Score) -> str:
    types = sorted(set(clean.planted) | set(hidden.planted))
    rows = [f"{'type':<16}{'n clean':>8}{'recall':>8}{'prec':>7}{'n disg.':>9}{'recall':>8}{'prec':>7}"]
    for t in types:
        rows.append(
            f"{t:<16}{clean.planted[t]:>8}{clean.recall(t):>8.3f}{clean.precision(t):>7.3f}"
            f"{hidden.planted[t]:>9}{hidden.recall(t):>8.3f}{hidden.precision(t):>7.3f}"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=3000, help="samples per variant (clean, disguised)")
    ap.add_argument("--lookalikes", type=int, default=2000, help="look-alike-only sentences")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--show", type=int, default=0, help="print this many misses and false positives")
    args = ap.parse_args(argv)
    engine = PolicyEngine.from_config(PolicyConfig())
    t0 = time.perf_counter()
    clean = score(engine, generate(args.size, args.seed))
    hidden = score(engine, generate(args.size, args.seed + 1, obfuscated=True))
    looks = score(engine, generate_lookalikes(args.lookalikes, args.seed + 2))
    elapsed = time.perf_counter() - t0
    print(f"PII recall, size={args.size} seed={args.seed} lookalikes={args.lookalikes} ({elapsed:.1f} s)")
    print(table(clean, hidden))
    all_looks = Score()
    for part in (clean, hidden, looks):
        all_looks.looks.update(part.looks)
        all_looks.look_hits.update(part.look_hits)
    kinds = ", ".join(f"{k} {all_looks.look_hits[k]}/{n}" for k, n in sorted(all_looks.looks.items()))
    print(f"look-alike false positives: {all_looks.lookalike_fp():.2%} ({kinds})")
    print(f"restore exact: clean {args.size - clean.restore_fail}/{args.size}, "
          f"disguised {args.size - hidden.restore_fail}/{args.size}")
    for label, part in (("clean", clean), ("disguised", hidden), ("look-alike", looks)):
        for kind, value, text in part.misses[: args.show]:
            print(f"MISS {label} {kind}: {value!r} in {text!r}")
        for kind, value, text in part.false_pos[: args.show]:
            print(f"FP {label} {kind}: {value!r} in {text!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
