"""How sure: order-statistic ranks, Student's t, the SLO judgement (docs/method.md §8)."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from infercost.domain import confidence
from infercost.domain.confidence import (
    EXACT_UP_TO,
    judge,
    judge_slo,
    mean_interval,
    order_statistic_ranks,
    requests_to_decide,
    samples_to_bound,
    separated,
    t_quantile,
)
from infercost.domain.results import LatencyConfidence
from infercost.domain.sketch import RELATIVE_ACCURACY, LatencySketch

QUANTILES = st.sampled_from([0.5, 0.9, 0.95, 0.99]) | st.floats(min_value=0.01, max_value=0.99)
LEVELS = st.sampled_from([0.8, 0.9, 0.95, 0.99])


def binomial_cdf(n: int, q: float, k: int) -> float:
    """P(B ≤ k), B ~ Binomial(n, q), summed with exact integer binomial coefficients."""
    return math.fsum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(0, k + 1))


# --- ranks ------------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=300), QUANTILES, LEVELS)
@settings(max_examples=150, deadline=None)
def test_the_ranks_are_the_equal_tailed_binomial_ranks(n: int, q: float, level: float) -> None:
    lo, hi = order_statistic_ranks(n, q, level)
    tail = (1 - level) / 2
    tolerance = 1e-9
    if lo is not None:
        assert 1 <= lo <= n
        assert binomial_cdf(n, q, lo - 1) <= tail + tolerance  # P(B < l) within the tail
        assert binomial_cdf(n, q, lo) > tail - tolerance  # and l + 1 would not be
    else:
        assert binomial_cdf(n, q, 0) > tail - tolerance  # even x(1) is above the quantile too often
    if hi is not None:
        assert 1 <= hi <= n
        assert 1 - binomial_cdf(n, q, hi - 1) <= tail + tolerance  # P(B ≥ u) within the tail
        assert hi == 1 or 1 - binomial_cdf(n, q, hi - 2) > tail - tolerance  # and u − 1 would not be
    else:
        assert q**n > tail - tolerance  # x(n) is below the quantile too often
    if lo is not None and hi is not None:
        assert lo < hi
        coverage = binomial_cdf(n, q, hi - 1) - binomial_cdf(n, q, lo - 1)
        assert coverage >= level - tolerance


def test_known_ranks() -> None:
    # The median of 10: x(2)..x(9), coverage 1 − 2 × 11/1024 = 97.9 %.
    assert order_statistic_ranks(10, 0.5) == (2, 9)
    assert order_statistic_ranks(1000, 0.9) == (881, 919)
    # p99 of 50 samples: 0.99⁵⁰ = 0.61 of the time all 50 are below it; no upper rank.
    assert order_statistic_ranks(50, 0.99) == (48, None)
    assert samples_to_bound(0.99) == 368 and 0.99**368 <= 0.025 < 0.99**367


@given(QUANTILES, LEVELS, st.integers(min_value=1, max_value=400))
@settings(max_examples=60, deadline=None)
def test_the_ranks_never_decrease_as_samples_grow(q: float, level: float, n: int) -> None:
    lo, hi = order_statistic_ranks(n, q, level)
    lo_next, hi_next = order_statistic_ranks(n + 1, q, level)
    if lo is not None:
        assert lo_next is not None and lo_next >= lo
    if hi is not None:
        assert hi_next is not None and hi_next >= hi
    if hi_next is None:
        assert hi is None


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_the_normal_approximation_is_within_a_rank_of_the_exact_sum_where_it_takes_over(q: float) -> None:
    exact_lo, exact_hi = order_statistic_ranks(EXACT_UP_TO, q)
    normal_lo, normal_hi = order_statistic_ranks(EXACT_UP_TO + 1, q)
    assert exact_lo is not None and exact_hi is not None and normal_lo is not None and normal_hi is not None
    # One rank for the approximation, up to one more for the extra sample (nq grows by q).
    assert 0 <= normal_lo - exact_lo <= 2 and 0 <= normal_hi - exact_hi <= 2


def test_ranks_refuse_what_is_not_a_quantile_or_a_sample() -> None:
    for n, q, level in ((0, 0.9, 0.95), (10, 1.0, 0.95), (10, 0.0, 0.95), (10, 0.9, 1.0)):
        with pytest.raises(ValueError):
            order_statistic_ranks(n, q, level)


def test_the_order_statistic_interval_covers_the_true_quantile_at_least_as_often_as_it_says() -> None:
    # Simulated: 4,000 samples of 300 lognormal latencies; the true p90 is known exactly.
    rng = np.random.default_rng(17)
    n, q, level, runs = 300, 0.9, 0.95, 4000
    true_p90 = math.exp(4.3 + 0.25 * NormalDist().inv_cdf(q))
    lo, hi = order_statistic_ranks(n, q, level)
    assert lo is not None and hi is not None
    samples = np.sort(rng.lognormal(4.3, 0.25, size=(runs, n)), axis=1)
    covered = np.mean((samples[:, lo - 1] <= true_p90) & (true_p90 <= samples[:, hi - 1]))
    exact = binomial_cdf(n, q, hi - 1) - binomial_cdf(n, q, lo - 1)
    assert exact >= level
    # Three standard errors of a 4,000-run proportion below the exact coverage.
    assert covered >= exact - 3 * math.sqrt(exact * (1 - exact) / runs)


def test_the_sketch_interval_covers_the_true_quantile_at_least_as_often_as_it_says() -> None:
    random.seed(18)
    n, runs = 400, 300
    true_p90 = math.exp(4.0 + 0.3 * NormalDist().inv_cdf(0.9))
    hits = 0
    for _ in range(runs):
        sketch = LatencySketch(random.lognormvariate(4.0, 0.3) for _ in range(n))
        found = sketch.confidence()
        assert found is not None
        lo, hi = found.intervals_ms["p90"]
        assert lo is not None and hi is not None
        hits += lo <= true_p90 <= hi
    # The sketch's ±1 % widening only adds coverage: at least the nominal 95 %, less 3 standard errors.
    assert hits / runs >= 0.95 - 3 * math.sqrt(0.95 * 0.05 / runs)


# --- the sketch's intervals ----------------------------------------------------------------------


@given(st.lists(st.floats(min_value=0.1, max_value=10_000), min_size=1, max_size=400))
@settings(max_examples=80, deadline=None)
def test_every_interval_contains_the_point_estimate_and_stays_within_min_and_max(values: list[float]) -> None:
    sketch = LatencySketch(values)
    stats, found = sketch.stats(), sketch.confidence()
    assert stats is not None and found is not None
    assert found.samples == len(values)
    for name, (lo, hi) in found.intervals_ms.items():
        point = stats.at(name)  # type: ignore[arg-type]
        assert point is not None
        assert lo is None or lo >= min(values)
        assert hi is None or hi <= max(values)
        # Bounded on both sides, the interval holds the point. (One-sided, it may not: the sketch
        # reads p99 of 2 samples at x(1), while 98 % of the time the true p99 is above x(2).)
        if lo is not None and hi is not None:
            assert lo <= point * (1 + 1e-9) and point * (1 - 1e-9) <= hi
    if found.mean_ms is not None:
        assert found.mean_ms[0] <= sketch.avg_ms <= found.mean_ms[1]


def test_the_sketch_reads_order_statistics_within_its_accuracy() -> None:
    values = [float(v) for v in range(1, 1001)]
    sketch = LatencySketch(values)
    for rank in (1, 2, 500, 881, 919, 1000):
        assert sketch.order_statistic_ms(rank) == pytest.approx(values[rank - 1], rel=RELATIVE_ACCURACY)
    std = sketch.std_ms()
    assert std is not None and std == pytest.approx(np.std(values, ddof=1), rel=RELATIVE_ACCURACY)
    with pytest.raises(ValueError):
        sketch.order_statistic_ms(1001)


def test_an_empty_sketch_has_no_confidence_and_one_value_no_mean_interval() -> None:
    assert LatencySketch().confidence() is None
    one = LatencySketch([5.0]).confidence()
    assert one is not None and one.mean_ms is None and one.intervals_ms["p90"] == (None, None)


# --- the mean ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("degrees", "table"), [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045), (120, 1.980)]
)
def test_t_quantiles_match_the_table(degrees: int, table: float) -> None:
    assert t_quantile(0.95, degrees) == pytest.approx(table, abs=5e-4)


def test_t_becomes_z_for_many_degrees_of_freedom() -> None:
    assert t_quantile(0.95, 999) == pytest.approx(1.9623, abs=5e-4)
    assert t_quantile(0.95, 5000) == pytest.approx(1.95996, abs=1e-5)


def test_the_mean_interval_is_t_times_the_standard_error() -> None:
    interval = mean_interval(10, 50.0, 3.0)
    assert interval is not None
    half = 2.262157 * 3.0 / math.sqrt(10)
    assert interval == pytest.approx((50.0 - half, 50.0 + half), abs=1e-5)
    assert mean_interval(1, 50.0, 0.0) is None


# --- the judgement -------------------------------------------------------------------------------

BOUNDS = st.floats(min_value=1, max_value=1000)


@given(BOUNDS, BOUNDS, BOUNDS)
def test_judge_meets_only_under_the_upper_bound_and_misses_only_over_the_lower(
    a: float, b: float, bound: float
) -> None:
    lo, hi = min(a, b), max(a, b)
    status = judge(lo, hi, bound)
    assert (status == "meets") == (hi <= bound)
    assert (status == "misses") == (lo > bound)
    # Whatever the point inside the interval, the point rule never contradicts a decided verdict.
    for point in (lo, (lo + hi) / 2, hi):
        if status == "meets":
            assert point <= bound
        if status == "misses":
            assert point > bound
    # An unbounded upper side is never "meets".
    assert judge(lo, None, bound) != "meets"


@given(
    st.integers(min_value=10, max_value=100_000),
    st.floats(min_value=1, max_value=100),
    st.floats(min_value=0.01, max_value=20),
    st.floats(min_value=0.01, max_value=20),
    st.booleans(),
)
def test_requests_to_decide_is_the_fewest_that_clear_the_bound_as_1_over_root_n(
    n: int, point: float, half: float, gap_share: float, below: bool
) -> None:
    # An uncertain interval: the bound lies between the point and the near side.
    gap = half * min(gap_share, 0.99) if gap_share < 1 else half * 0.5
    bound = point + gap if below else point - gap
    lo, hi = point - half, point + half
    assume(bound > 0 and judge(lo, hi, bound) == "uncertain" and abs(point - bound) > 1e-6)
    more = requests_to_decide(n, lo, hi, point, bound)
    assert more is not None and more >= 1

    def past_the_bound(extra: int) -> float:
        """How far the near side is past the bound after `extra` more requests (≥ 0: decided)."""
        shrink = math.sqrt(n / (n + extra))
        return bound - (point + half * shrink) if below else (point - half * shrink) - bound

    slack = 1e-9 * (point + half)  # float rounding of the squares, nothing more
    assert past_the_bound(more) >= -slack
    assert more == 1 or past_the_bound(more - 1) <= slack


def test_requests_to_decide_has_no_answer_on_the_bound_or_against_an_unbounded_side() -> None:
    assert requests_to_decide(1000, 70.0, 90.0, 80.0, 80.0) is None
    assert requests_to_decide(1000, 70.0, None, 78.0, 80.0) is None


def confidence_of(p90: tuple[float | None, float | None], samples: int = 1000) -> LatencyConfidence:
    return LatencyConfidence(samples=samples, intervals_ms={"p90": p90}, method="test")


def test_an_interval_straddling_the_bound_is_uncertain_and_says_what_would_decide_it() -> None:
    judged = judge_slo("p90", 0.9, 78.2, 80, confidence_of((74.9, 81.6)))
    assert judged.status == "uncertain" and judged.interval_ms == (74.9, 81.6) and judged.note is None
    # (81.6 − 78.2)² ÷ (80 − 78.2)² × 1000 − 1000 = 2,568 more, said as ~2,600.
    assert judged.verdict == (
        "P90 78.2 ms (95 % CI 74.9–81.6) straddles 80 ms: uncertain; ~2,600 more requests would decide it"
    )


def test_an_interval_under_the_bound_meets_and_one_over_it_misses() -> None:
    meets = judge_slo("p90", 0.9, 70.0, 80, confidence_of((68.0, 72.5)))
    assert meets.status == "meets" and meets.verdict == "P90 70.0 ms (95 % CI 68.0–72.5) ≤ 80 ms"
    misses = judge_slo("p90", 0.9, 90.0, 80, confidence_of((85.0, 95.0)))
    assert misses.status == "misses" and misses.verdict == "P90 90.0 ms (95 % CI 85.0–95.0) > 80 ms"


def test_too_few_samples_to_bound_the_percentile_is_uncertain_with_the_count_needed() -> None:
    judged = judge_slo(
        "p99", 0.99, 60.0, 80, LatencyConfidence(samples=200, intervals_ms={"p99": (55.0, None)}, method="t")
    )
    assert judged.status == "uncertain"
    assert "(95 % CI 55.0–∞)" in judged.verdict
    assert "200 requests cannot bound P99 from above; at least 168 more are needed" in judged.verdict


def test_without_an_interval_the_point_estimate_decides_and_says_so() -> None:
    typed_in = judge_slo("p90", 0.9, 79.0, 80, None)
    assert typed_in.status == "meets" and typed_in.verdict == "P90 79.0 ms ≤ 80 ms"
    assert typed_in.note == "point estimate: no interval (no sketch)"
    maximum = judge_slo("max", 1.0, 81.0, 80, confidence_of((70.0, 75.0)))
    assert maximum.status == "misses" and maximum.note is not None and "maximum" in maximum.note


def test_intervals_separate_only_when_the_new_low_is_above_the_old_high() -> None:
    assert separated((70.0, 75.0), (75.1, 80.0)) is True
    assert separated((70.0, 75.0), (74.9, 80.0)) is False
    assert separated((70.0, None), (90.0, 95.0)) is False
    assert separated(None, (90.0, 95.0)) is None


def test_about_rounds_up_to_two_significant_figures() -> None:
    assert [confidence.about(n) for n in (7, 99, 100, 2371, 2400, 100_001)] == [
        7,
        99,
        100,
        2400,
        2400,
        110_000,
    ]
