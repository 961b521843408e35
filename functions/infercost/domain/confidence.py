"""How sure: distribution-free confidence intervals for latency percentiles and the mean.

docs/method.md, section 8. A percentile's interval is a pair of order statistics whose ranks
come from the binomial distribution: whatever the latency distribution, the q-quantile lies
between the l-th and the u-th smallest of n samples with probability
P(l ≤ B < u), B ~ Binomial(n, q). The mean's interval is Student's t (the central limit
theorem). An SLO is met when the interval's upper bound is, missed when its lower bound is
above it, and uncertain when the interval straddles it.

Pure arithmetic on counts and values: the sketch (infercost.domain.sketch) and CloudWatch
(infercost.data.metrics) read the values at the ranks computed here. This module imports no
other infercost module, so that the result models can import it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, Protocol

DEFAULT_LEVEL = 0.95
# Binomial sums are exact (summed term by term in log space) up to this many samples; beyond,
# the normal approximation with continuity correction is within a rank of them.
EXACT_UP_TO = 100_000
# Student's t below this many degrees of freedom; beyond, its quantile is within 0.1 % of z.
T_UP_TO = 1_000

SloStatus = Literal["meets", "misses", "uncertain"]
# An interval's bounds in ms; None for a side that the samples cannot bound.
Interval = tuple[float | None, float | None]

NO_SKETCH = "no sketch"
POINT_ESTIMATE = "point estimate: no interval"


def _check(n: int, q: float, level: float) -> None:
    if n < 1:
        raise ValueError(f"need at least one sample, got {n}")
    if not 0 < q < 1:
        raise ValueError(f"the quantile must be strictly between 0 and 1, got {q}")
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must be strictly between 0 and 1, got {level}")


def _log_pmf(n: int, q: float, k: int, log_n_fact: float) -> float:
    return (
        log_n_fact - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(q) + (n - k) * math.log1p(-q)
    )


def order_statistic_ranks(n: int, q: float, level: float = DEFAULT_LEVEL) -> tuple[int | None, int | None]:
    """1-based ranks (l, u): the q-quantile lies in [x(l), x(u)] with probability ≥ `level`.

    Equal tails of B ~ Binomial(n, q): l is the largest rank with P(B < l) ≤ (1 − level)/2, u the
    smallest with P(B ≥ u) ≤ (1 − level)/2. A side is None when no rank in 1..n bounds it
    (p99 of 50 samples has no upper rank: its upper bound is unknown).
    """
    _check(n, q, level)
    tail = (1 - level) / 2
    if n > EXACT_UP_TO:
        return _normal_ranks(n, q, tail)
    log_n_fact = math.lgamma(n + 1)
    below = 0.0
    lower: int | None = None
    for k in range(n + 1):
        below += math.exp(_log_pmf(n, q, k, log_n_fact))
        if below > tail:
            # P(B ≤ k − 1) ≤ tail < P(B ≤ k): rank k is the largest lower rank.
            lower = k if k >= 1 else None
            break
    above = 0.0
    upper: int | None = None
    for k in range(n, -1, -1):
        above += math.exp(_log_pmf(n, q, k, log_n_fact))
        if above > tail:
            # P(B ≥ k + 1) ≤ tail < P(B ≥ k): rank k + 1 is the smallest upper rank.
            upper = k + 1 if k + 1 <= n else None
            break
    return lower, upper


def _normal_ranks(n: int, q: float, tail: float) -> tuple[int | None, int | None]:
    """B ≈ Normal(nq, nq(1 − q)) with continuity correction: l = ⌊nq − zσ + ½⌋, u = ⌈nq + zσ + ½⌉."""
    z = NormalDist().inv_cdf(1 - tail)
    mean = n * q
    sigma = math.sqrt(n * q * (1 - q))
    lower = math.floor(mean - z * sigma + 0.5)
    upper = math.ceil(mean + z * sigma + 0.5)
    return (lower if lower >= 1 else None), (upper if upper <= n else None)


def samples_to_bound(q: float, level: float = DEFAULT_LEVEL) -> int:
    """The fewest samples whose largest one bounds the q-quantile from above: qⁿ ≤ (1 − level)/2."""
    _check(1, q, level)
    return math.ceil(math.log((1 - level) / 2) / math.log(q))


def t_quantile(level: float, degrees: int) -> float:
    """Two-sided Student t quantile: P(|T| ≤ t) = `level` with `degrees` degrees of freedom.

    Exact (Abramowitz & Stegun 26.7.3–4, solved by bisection) below T_UP_TO degrees, the normal
    quantile beyond.
    """
    if degrees < 1:
        raise ValueError(f"need at least one degree of freedom, got {degrees}")
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must be strictly between 0 and 1, got {level}")
    if degrees >= T_UP_TO:
        return NormalDist().inv_cdf(0.5 + level / 2)
    high = 1.0
    while _t_within(high, degrees) < level:
        high *= 2
    low = 0.0
    for _ in range(100):
        middle = (low + high) / 2
        if _t_within(middle, degrees) < level:
            low = middle
        else:
            high = middle
    return high


def _t_within(t: float, degrees: int) -> float:
    """P(|T| ≤ t) for Student's t with an integer number of degrees of freedom."""
    theta = math.atan(t / math.sqrt(degrees))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if degrees % 2 == 0:
        term = total = 1.0
        for j in range(1, degrees // 2):
            term *= (2 * j - 1) / (2 * j) * cos2
            total += term
        return sin * total
    term = total = 1.0
    for j in range(1, (degrees - 1) // 2):
        term *= (2 * j) / (2 * j + 1) * cos2
        total += term
    series = sin * math.cos(theta) * total if degrees > 1 else 0.0
    return 2 / math.pi * (theta + series)


def mean_interval(
    n: int, mean: float, std: float, level: float = DEFAULT_LEVEL
) -> tuple[float, float] | None:
    """mean ± t × std ÷ √n (Student's t, n − 1 degrees of freedom); None below two samples."""
    if n < 2:
        return None
    half = t_quantile(level, n - 1) * std / math.sqrt(n)
    return max(mean - half, 0.0), mean + half


def judge(lo: float | None, hi: float | None, bound: float) -> SloStatus:
    """'meets' when the upper bound is at or under `bound`, 'misses' when the lower bound is above it."""
    if hi is not None and hi <= bound:
        return "meets"
    if lo is not None and lo > bound:
        return "misses"
    return "uncertain"


def requests_to_decide(n: int, lo: float | None, hi: float | None, point: float, bound: float) -> int | None:
    """About how many more requests would move the interval's near side off `bound`.

    An interval's half-widths shrink as 1/√n, so the side facing the bound (h, from the point to
    it) reaches it at n′ = n × (h ÷ |point − bound|)²; the answer is n′ − n, rounded up (past it,
    when the lower side must rise strictly above the bound), at least 1. None when the point is on
    the bound (no sample size decides it) or that side is unbounded.
    """
    if point == bound:
        return None
    side = hi if point < bound else lo
    if side is None:
        return None
    extra = n * ((side - point) / (bound - point)) ** 2 - n
    return max(1, math.ceil(extra) if point < bound else math.floor(extra) + 1)


class HasIntervals(Protocol):
    """What judge_slo reads of a result's confidence (infercost.domain.results.LatencyConfidence)."""

    @property
    def level(self) -> float: ...

    @property
    def samples(self) -> int: ...

    @property
    def intervals_ms(self) -> Mapping[str, Interval]: ...


@dataclass(frozen=True)
class SloJudgement:
    """The latency side of an SLO verdict: the status, the interval used, and the words."""

    status: SloStatus
    interval_ms: Interval | None
    verdict: str
    # Said when the point rule was used: why there is no interval.
    note: str | None = None


def point_estimate_note(why: str) -> str:
    return f"{POINT_ESTIMATE} ({why})"


def judge_slo(
    percentile: str, quantile: float, point_ms: float, bound_ms: float, confidence: HasIntervals | None
) -> SloJudgement:
    """Judge `percentile` (point `point_ms`) against `bound_ms`, on its interval when there is one.

    Without one (a typed-in table has no sketch; the maximum has no distribution-free bound) the
    point rule decides, and the note says so.
    """
    name = percentile.upper()
    interval = confidence.intervals_ms.get(percentile) if confidence is not None else None
    if confidence is None or interval is None:
        why = NO_SKETCH
        if quantile >= 1:
            why = "the maximum has no distribution-free bound"
        elif confidence is not None:
            why = f"no {percentile} interval"
        point_verdict = (
            f"{name} {point_ms:.1f} ms ≤ {bound_ms:g} ms"
            if point_ms <= bound_ms
            else f"{name} {point_ms:.1f} ms > {bound_ms:g} ms"
        )
        return SloJudgement(
            status="meets" if point_ms <= bound_ms else "misses",
            interval_ms=None,
            verdict=point_verdict,
            note=point_estimate_note(why),
        )
    lo, hi = interval
    status = judge(lo, hi, bound_ms)
    shown = f"{name} {point_ms:.1f} ms ({describe_interval(interval, confidence.level)})"
    if status == "meets":
        verdict = f"{shown} ≤ {bound_ms:g} ms"
    elif status == "misses":
        verdict = f"{shown} > {bound_ms:g} ms"
    else:
        verdict = f"{shown} straddles {bound_ms:g} ms: uncertain; " + _what_decides(
            name, quantile, point_ms, bound_ms, interval, confidence.samples, confidence.level
        )
    return SloJudgement(status=status, interval_ms=interval, verdict=verdict)


def _what_decides(
    name: str, quantile: float, point: float, bound: float, interval: Interval, n: int, level: float
) -> str:
    lo, hi = interval
    if hi is None and point <= bound:
        least = samples_to_bound(quantile, level) - n
        return f"{n:,} requests cannot bound {name} from above; at least {least:,} more are needed"
    more = requests_to_decide(n, lo, hi, point, bound)
    if more is None:
        return "the estimate sits on the bound"
    return f"~{about(more):,} more requests would decide it"


def about(count: int) -> int:
    """`count` rounded up to two significant figures (2,371 → 2,400): an estimate, said as one."""
    if count < 100:
        return count
    step = 10 ** (len(str(count)) - 2)
    return -(-count // step) * step


def describe_interval(interval: Interval, level: float = DEFAULT_LEVEL) -> str:
    """'95 % CI 74.9–81.6' (ms); an unbounded side is '?' below and '∞' above."""
    lo, hi = interval
    low = f"{lo:.1f}" if lo is not None else "?"
    high = f"{hi:.1f}" if hi is not None else "∞"
    return f"{level * 100:g} % CI {low}–{high}"


def separated(before: Interval | None, after: Interval | None) -> bool | None:
    """True when `after` lies wholly above `before` (its low above the other's high); None when
    either is missing, so that no interval rule applies. An unbounded side never separates."""
    if before is None or after is None:
        return None
    high_before, low_after = before[1], after[0]
    return high_before is not None and low_after is not None and low_after > high_before


__all__ = [
    "DEFAULT_LEVEL",
    "EXACT_UP_TO",
    "NO_SKETCH",
    "POINT_ESTIMATE",
    "T_UP_TO",
    "HasIntervals",
    "Interval",
    "SloJudgement",
    "SloStatus",
    "about",
    "describe_interval",
    "judge",
    "judge_slo",
    "mean_interval",
    "order_statistic_ranks",
    "point_estimate_note",
    "requests_to_decide",
    "samples_to_bound",
    "separated",
    "t_quantile",
]
