"""Regressions on intervals: an alert fires only when the two runs' intervals separate (docs/method.md §8)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from infercost.domain.confidence import Interval
from infercost.domain.models import Candidate, Slo
from infercost.domain.regression import detect_regressions
from infercost.domain.results import LatencyConfidence, LatencyStats, RankedCandidate, Recommendation

SLO = Slo(percentile="p90", max_latency_ms=80)


def entry(
    latency: float,
    interval: Interval | None,
    *,
    cost: float = 0.40,
    mean: tuple[float, float] | None = None,
    avg: float | None = None,
    status: str = "meets",
) -> RankedCandidate:
    confidence = None
    if interval is not None or mean is not None:
        confidence = LatencyConfidence(
            samples=1000, intervals_ms={"p90": interval} if interval else {}, mean_ms=mean, method="test"
        )
    return RankedCandidate(
        rank=1,
        candidate=Candidate(instance_type="ml.c7g.large"),
        label="ml.c7g.large",
        price_per_hour_usd=1.0,
        price_source="override",
        cost_per_100k_usd=cost,
        latency_ms=LatencyStats(avg=avg if avg is not None else latency * 0.8, p90=latency),
        slo_latency_ms=latency,
        slo_status=status,  # type: ignore[arg-type]
        slo_interval_ms=interval,
        meets_slo=status == "meets",
        slo_verdict=status,
        pareto_optimal=True,
        confidence=confidence,
    )


def rec(item: RankedCandidate) -> Recommendation:
    return Recommendation(
        model="m",
        region="us-east-1",
        slo=SLO,
        recommended=item if item.meets_slo else None,
        reason="",
        ranked=[item],
    )


def test_a_latency_rise_whose_intervals_overlap_is_not_a_regression() -> None:
    # +16 %, above the 10 % threshold, but the runs could be the same: no alert.
    previous = rec(entry(60.0, (55.0, 66.0)))
    current = rec(entry(69.6, (65.0, 74.0)))
    assert detect_regressions(current, previous) == []


def test_a_latency_rise_whose_intervals_separate_is_a_regression_and_shows_both() -> None:
    previous = rec(entry(60.0, (58.0, 62.0)))
    current = rec(entry(70.0, (68.0, 72.0)))
    (regression,) = detect_regressions(current, previous)
    assert regression.kind == "latency_increase"
    assert regression.previous_interval == (58.0, 62.0) and regression.current_interval == (68.0, 72.0)
    assert regression.message == (
        "P90 latency on ml.c7g.large rose 16.7 %, from 60.0 ms to 70.0 ms "
        "(threshold 10 %; 95 % intervals apart: 58.0 ms to 62.0 ms then 68.0 ms to 72.0 ms)."
    )


def test_separated_intervals_below_the_threshold_are_not_a_regression() -> None:
    previous = rec(entry(60.0, (59.5, 60.5)))
    current = rec(entry(63.0, (62.5, 63.5)))
    assert detect_regressions(current, previous) == []


def test_with_one_run_lacking_an_interval_the_threshold_decides_and_says_so() -> None:
    previous = rec(entry(60.0, None))
    current = rec(entry(69.6, (65.0, 74.0)))
    (regression,) = detect_regressions(current, previous)
    assert regression.kind == "latency_increase" and regression.current_interval is None
    assert regression.message.endswith("(threshold 10 %; point estimates: no interval to compare).")


def test_an_unbounded_old_interval_never_separates() -> None:
    previous = rec(entry(60.0, (55.0, None)))
    current = rec(entry(90.0, (85.0, 95.0), status="misses"))
    # Nothing is recommended now (that is reported), but no latency rise is claimed.
    found = detect_regressions(current, previous)
    assert [r.kind for r in found] == ["recommendation_changed", "previous_winner_misses_slo"]


def test_a_cost_rise_within_the_mean_intervals_is_not_a_regression() -> None:
    # Cost is proportional to the average latency (48 → 55.68 ms): +16 %, but the means overlap.
    previous = rec(entry(60.0, (58.0, 62.0), cost=0.40, avg=48.0, mean=(44.0, 52.0)))
    current = rec(entry(60.0, (58.0, 62.0), cost=0.464, avg=55.68, mean=(51.0, 60.4)))
    assert detect_regressions(current, previous) == []
    # Narrower means that separate: $0.383–0.417 then $0.450–0.478.
    before = rec(entry(60.0, (58.0, 62.0), cost=0.40, avg=48.0, mean=(46.0, 50.0)))
    after = rec(entry(60.0, (58.0, 62.0), cost=0.464, avg=55.68, mean=(54.0, 57.4)))
    (regression,) = detect_regressions(after, before)
    assert regression.kind == "cost_increase"
    assert regression.previous_interval is not None and regression.current_interval is not None
    assert regression.current_interval[0] > regression.previous_interval[1]


def test_an_uncertain_previous_winner_is_not_reported_as_missing_the_slo() -> None:
    previous = rec(entry(60.0, (58.0, 62.0)))
    current = rec(entry(78.0, (74.0, 82.0), status="uncertain"))
    found = detect_regressions(current, previous)
    assert "previous_winner_misses_slo" not in [r.kind for r in found]
    assert [r.kind for r in found] == ["recommendation_changed"]


@given(
    st.floats(min_value=1, max_value=100),
    st.floats(min_value=0, max_value=20),
    st.floats(min_value=1, max_value=100),
    st.floats(min_value=0, max_value=20),
)
def test_a_latency_alert_fires_only_when_the_new_low_is_above_the_old_high(
    old_lo: float, old_width: float, new_lo: float, new_width: float
) -> None:
    old = (old_lo, old_lo + old_width)
    new = (new_lo, new_lo + new_width)
    previous = rec(entry((old[0] + old[1]) / 2, old))
    current = rec(entry((new[0] + new[1]) / 2, new))
    fired = any(r.kind == "latency_increase" for r in detect_regressions(current, previous))
    if fired:
        assert new[0] > old[1]
