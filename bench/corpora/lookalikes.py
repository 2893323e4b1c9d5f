"""Look-alike negatives: numbers and strings shaped like PII that are not PII."""

from __future__ import annotations

import random
import string


def _d(r: random.Random, n: int) -> str:
    return "".join(r.choice(string.digits) for _ in range(n))


def lookalike(r: random.Random) -> tuple[str, str]:
    """(kind, text) of one look-alike value."""
    kind = r.choice(KINDS)
    return kind, GENERATORS[kind](r)


def _order(r: random.Random) -> str:
    return r.choice([
        f"#{_d(r, r.randint(6, 9))}", f"ORD-{_d(r, 8)}", f"ORD-{r.randint(2019, 2026)}-{_d(r, 6)}",
        f"PO{_d(r, 7)}", f"INV-{_d(r, 6)}", f"SO-{_d(r, 4)}-{_d(r, 4)}", f"A{_d(r, 2)}-{_d(r, 5)}-{_d(r, 3)}",
    ])


def _amount(r: random.Random) -> str:
    whole = r.randint(1, 9_999_999)
    cents = _d(r, 2)
    return r.choice([
        f"${whole:,}.{cents}", f"€{whole:,}.{cents}".replace(",", "X").replace(".", ",").replace("X", "."),
        f"EUR {whole:,}".replace(",", " "), f"£{whole:,}", f"{whole:,}.{cents} USD", f"¥{whole:,}",
        f"CHF {whole:,}.{cents}".replace(",", "'"), f"{r.randint(1, 99)}.{_d(r, 1)}%",
    ])


def _date(r: random.Random) -> str:
    y, m, d = r.randint(1950, 2030), r.randint(1, 12), r.randint(1, 28)
    return r.choice([
        f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{d:02d}.{m:02d}.{y}", f"{m}/{d}/{y}",
        f"{y}{m:02d}{d:02d}", f"{d:02d}-{m:02d}-{y}", f"{y}/{m:02d}/{d:02d}",
    ])


def _version(r: random.Random) -> str:
    parts = [str(r.randint(0, 30)) for _ in range(r.randint(2, 4))]
    return r.choice([
        "v" + ".".join(parts), ".".join(parts), f"{r.randint(1, 20)}.{r.randint(0, 9)}.{r.randint(0, 99)}-rc{r.randint(1, 5)}",
        f"10.0.{r.randint(10000, 26000)}.{r.randint(100, 5000)}", f"build {r.randint(1000, 99999)}",
    ])


def _timestamp(r: random.Random) -> str:
    y, m, d = r.randint(2000, 2030), r.randint(1, 12), r.randint(1, 28)
    hh, mm, ss = r.randint(0, 23), r.randint(0, 59), r.randint(0, 59)
    epoch = r.randint(1_500_000_000, 1_900_000_000)
    return r.choice([
        f"{y}-{m:02d}-{d:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z", f"{y}-{m:02d}-{d:02d} {hh:02d}:{mm:02d}:{ss:02d}",
        f"{hh:02d}:{mm:02d}:{ss:02d}.{_d(r, 3)}", str(epoch), str(epoch) + _d(r, 3),
        f"{y}{m:02d}{d:02d}{hh:02d}{mm:02d}{ss:02d}",
    ])


def _tracking(r: random.Random) -> str:
    return r.choice([
        "1Z" + "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(16)),
        f"9400 {_d(r, 4)} {_d(r, 4)} {_d(r, 4)} {_d(r, 4)} {_d(r, 2)}", "92" + _d(r, 20),
        _d(r, 12), f"JD{_d(r, 18)}", f"{r.choice(['LX', 'RR', 'CP'])}{_d(r, 9)}{r.choice(['DE', 'FR', 'CN', 'US'])}",
        "TBA" + _d(r, 12),
    ])


def _misc(r: random.Random) -> str:
    return r.choice([
        f"978-{r.randint(0, 9)}-{_d(r, 2)}-{_d(r, 6)}-{r.randint(0, 9)}",  # ISBN-shaped
        f"{_d(r, 8)}-{r.choice('abcdef')}{_d(r, 3)}-{_d(r, 4)}-a{_d(r, 3)}-{_d(r, 12)}",  # UUID-shaped
        f"{r.uniform(-90, 90):.4f}, {r.uniform(-180, 180):.4f}",  # coordinates
        f"pp. {r.randint(1, 400)}-{r.randint(401, 900)}", f"room {r.randint(100, 999)}",
        f"port {r.randint(1024, 65535)}", f"SKU {_d(r, 5)}-{_d(r, 3)}", f"ticket {_d(r, 8)}-{_d(r, 4)}",
        f"{r.randint(1, 9)}x{r.randint(10, 999)}", f"case {r.randint(2000, 2026)}/{_d(r, 5)}",
    ])


GENERATORS = {
    "order_id": _order, "amount": _amount, "date": _date, "version": _version,
    "timestamp": _timestamp, "tracking": _tracking, "misc": _misc,
}
KINDS = tuple(GENERATORS)
