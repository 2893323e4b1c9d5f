"""Significance tests for experiment reports: Welch's t test and the two-proportion z test.

scipy is used when installed; otherwise the same p-values come from the
regularised incomplete beta function (Student t) and the normal CDF, here.
"""

from __future__ import annotations

import math
from typing import Sequence


def mean_var(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, var


def _betacf(a: float, b: float, x: float) -> float:
    tiny, qab, qap, qam = 1e-300, a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c if abs(1.0 + aa / c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 3e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x))
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def welch(a: Sequence[float], b: Sequence[float]) -> dict[str, float] | None:
    """Welch's unequal-variance t test of mean(b) - mean(a); None with fewer than 2 values a side."""
    if len(a) < 2 or len(b) < 2:
        return None
    (ma, va), (mb, vb) = mean_var(a), mean_var(b)
    se2 = va / len(a) + vb / len(b)
    if se2 == 0:
        return {"t": 0.0 if ma == mb else math.copysign(math.inf, mb - ma), "df": float(len(a) + len(b) - 2),
                "p": 1.0 if ma == mb else 0.0, "diff": mb - ma}
    t = (mb - ma) / math.sqrt(se2)
    df = se2 ** 2 / ((va / len(a)) ** 2 / (len(a) - 1) + (vb / len(b)) ** 2 / (len(b) - 1))
    try:
        from scipy import stats

        p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
    except ImportError:
        p = t_two_sided_p(t, df)
    return {"t": t, "df": df, "p": p, "diff": mb - ma}


def two_proportions(success_a: int, n_a: int, success_b: int, n_b: int) -> dict[str, float] | None:
    """Two-proportion z test (pooled) of rate(b) - rate(a)."""
    if n_a == 0 or n_b == 0:
        return None
    pa, pb = success_a / n_a, success_b / n_b
    pooled = (success_a + success_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return {"z": 0.0, "p": 1.0, "diff": pb - pa}
    z = (pb - pa) / se
    return {"z": z, "p": math.erfc(abs(z) / math.sqrt(2)), "diff": pb - pa}
