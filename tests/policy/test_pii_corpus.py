"""PII recall on the generated multi-locale corpus (bench/corpora), clean and disguised.

A smaller corpus than ``bench/pii_recall.py`` and another seed; the same real engine
(the default policy: every detector, redact everything) and the same scoring.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("faker")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from pii_recall import Score, score  # noqa: E402
from corpora.pii_corpus import generate, generate_lookalikes  # noqa: E402

from llm_mesh.policy import PolicyConfig, PolicyEngine, RedactionVault  # noqa: E402

SEED = 2027
SIZE = 500


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.from_config(PolicyConfig())


@pytest.fixture(scope="module")
def clean(engine) -> Score:
    return score(engine, generate(SIZE, SEED))


@pytest.fixture(scope="module")
def disguised(engine) -> Score:
    return score(engine, generate(SIZE, SEED + 1, obfuscated=True))


def _pooled(result: Score, family: tuple[str, ...]) -> float:
    planted = sum(result.planted[t] for t in family)
    return sum(result.found[t] for t in family) / planted


@pytest.mark.parametrize("variant", ["clean", "disguised"])
def test_recall_per_type(variant, request):
    result: Score = request.getfixturevalue(variant)
    for etype in ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "IP_ADDRESS"):
        assert result.planted[etype] >= 50, etype
        assert result.recall(etype) >= 0.99, (variant, etype, result.recall(etype), result.misses[:5])
    # national ids: a few dozen of each at this size, so pooled
    ids = ("US_SSN", "FR_NIR", "ES_DNI", "IT_FISCAL_CODE", "GB_NINO", "GB_NHS", "DE_IDNR")
    assert all(result.planted[t] for t in ids)
    assert _pooled(result, ids) >= 0.99, (variant, [m for m in result.misses if m[0] in ids][:5])


def test_lookalike_false_positive_rate(engine, clean, disguised):
    looks = score(engine, generate_lookalikes(400, SEED + 2))
    hits = sum(p.look_hits.total() for p in (clean, disguised, looks))
    total = sum(p.looks.total() for p in (clean, disguised, looks))
    assert total >= 1000
    assert hits / total <= 0.03, (hits, total, looks.false_pos[:5])


@pytest.mark.parametrize("variant", ["clean", "disguised"])
def test_redaction_restores_the_exact_original(variant, request):
    """Every sample, disguised ones (zero-width, bidi, fullwidth inside values) included."""
    result: Score = request.getfixturevalue(variant)
    assert result.restore_fail == 0


def test_disguised_values_are_redacted_whole(engine):
    vault = RedactionVault()
    text = (
        "card \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11, "
        "ssn 536.90.4399, m\u00f3vil 612 345 678, "
        "jane.doe@example.com5500-0000-0000-0004-jane.doe@example.com, tel 0\u200b20 7946\u202f0958"
    )
    redacted, _ = engine.apply_to_text(text, vault)
    assert redacted == (
        "card [CREDIT_CARD_1], ssn [US_SSN_1], m\u00f3vil [PHONE_1], "
        "[EMAIL_1][CREDIT_CARD_2]-[EMAIL_1], tel [PHONE_2]"
    )
    assert vault.restore(redacted) == text
