"""Regression detection between a run and the previous successful run of the same model and SLO."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from infercost.data.store import to_attribute
from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, Slo
from infercost.domain.regression import Regression, check_regressions, detect_regressions
from infercost.domain.results import CandidateFailure, LatencyStats, RankedCandidate, Recommendation

SLO = Slo(percentile="p90", max_latency_ms=80)
POOL = ["ml.c7g.large", "ml.c6i.large", "ml.m6i.large", "ml.g5.xlarge", "ml.inf2.xlarge"]


def entry(instance_type: str, cost: float, latency: float, slo: Slo = SLO) -> RankedCandidate:
    meets = latency <= slo.max_latency_ms
    return RankedCandidate(
        rank=1,
        candidate=Candidate(instance_type=instance_type),
        label=instance_type,
        price_per_hour_usd=1.0,
        price_source="override",
        cost_per_100k_usd=cost,
        latency_ms=LatencyStats(avg=latency * 0.9, p90=latency),
        slo_latency_ms=latency,
        meets_slo=meets,
        slo_verdict="meets" if meets else "misses",
        pareto_optimal=True,
    )


def rec(
    entries: list[RankedCandidate],
    slo: Slo = SLO,
    *,
    model: str = "densenet121",
    failures: list[CandidateFailure] | None = None,
) -> Recommendation:
    """A recommendation as the recommender makes it: the cheapest entry that meets the SLO wins."""
    passing = sorted((e for e in entries if e.meets_slo), key=lambda e: e.cost_per_100k_usd)
    return Recommendation(
        model=model,
        region="us-east-1",
        slo=slo,
        recommended=passing[0] if passing else None,
        reason="cheapest that meets the SLO" if passing else "no candidate meets the SLO",
        ranked=entries,
        failures=failures or [],
    )


def scaled(
    recommendation: Recommendation, *, cost: float = 1.0, winner_latency: float = 1.0
) -> Recommendation:
    """The same run, every cost times `cost` and the winner's latency times `winner_latency`."""
    winner = recommendation.recommended
    entries = []
    for e in recommendation.ranked:
        latency = e.slo_latency_ms * (winner_latency if winner and e.candidate == winner.candidate else 1)
        entries.append(entry(e.label, e.cost_per_100k_usd * cost, latency, recommendation.slo))
    return rec(entries, recommendation.slo)


@st.composite
def recommendations(draw: st.DrawFn, *, winner_headroom: float = 1.0) -> Recommendation:
    """1-5 distinct candidates with positive costs; latencies on both sides of the SLO."""
    types = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=5, unique=True))
    costs = st.floats(min_value=0.001, max_value=100, allow_nan=False)
    latencies = st.floats(min_value=0.5, max_value=200, allow_nan=False)
    entries = [entry(t, draw(costs), draw(latencies)) for t in types]
    result = rec(entries)
    if winner_headroom != 1.0:
        assume(result.recommended is not None)
        assert result.recommended is not None
        assume(result.recommended.slo_latency_ms * winner_headroom <= SLO.max_latency_ms)
    return result


def kinds(regressions: list[Regression]) -> list[str]:
    return [r.kind for r in regressions]


# --- properties -------------------------------------------------------------------------------


@given(recommendations())
def test_an_identical_run_has_no_regression(current: Recommendation) -> None:
    assert detect_regressions(current, current) == []


@given(recommendations(), st.floats(min_value=0.0, max_value=0.095))
def test_a_cost_increase_below_the_threshold_is_not_a_regression(
    current: Recommendation, increase: float
) -> None:
    assume(current.recommended is not None)
    assert detect_regressions(scaled(current, cost=1 + increase), current, threshold=0.10) == []


@given(recommendations(), st.floats(min_value=0.105, max_value=10))
def test_a_cost_increase_above_the_threshold_is_exactly_one_cost_regression(
    previous: Recommendation, increase: float
) -> None:
    assume(previous.recommended is not None)
    found = detect_regressions(scaled(previous, cost=1 + increase), previous, threshold=0.10)
    assert kinds(found) == ["cost_increase"]
    (regression,) = found
    assert regression.change_pct == pytest.approx(increase * 100)
    assert previous.recommended is not None
    assert regression.previous_value == previous.recommended.cost_per_100k_usd
    assert regression.change_pct is not None
    assert f"rose {regression.change_pct:.1f} %" in regression.message


@given(recommendations(), st.floats(min_value=0.0, max_value=0.5))
def test_a_cheaper_run_is_not_a_regression(previous: Recommendation, decrease: float) -> None:
    assert detect_regressions(scaled(previous, cost=1 - decrease * 0.99), previous) == []


@given(recommendations(winner_headroom=1.5), st.floats(min_value=0.0, max_value=0.5))
def test_a_slower_winner_that_still_meets_the_slo_is_one_latency_regression_above_threshold(
    previous: Recommendation, increase: float
) -> None:
    assume(abs(increase - 0.10) > 0.001)
    current = scaled(previous, winner_latency=1 + increase)
    assert current.recommended is not None and previous.recommended is not None
    assert current.recommended.candidate == previous.recommended.candidate
    expected = ["latency_increase"] if increase > 0.10 else []
    assert kinds(detect_regressions(current, previous, threshold=0.10)) == expected


@given(recommendations(), recommendations(), st.floats(0, 1), st.floats(0, 1))
def test_a_higher_threshold_never_finds_more(
    current: Recommendation, previous: Recommendation, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    strict = kinds(detect_regressions(current, previous, threshold=low))
    lenient = kinds(detect_regressions(current, previous, threshold=high))
    assert set(lenient) <= set(strict)
    assert len(lenient) <= len(strict)


@given(recommendations(), recommendations())
def test_every_regression_is_one_sentence_that_the_store_accepts(
    current: Recommendation, previous: Recommendation
) -> None:
    for regression in detect_regressions(current, previous):
        assert "\n" not in regression.message
        assert regression.message.endswith(".")
        to_attribute(regression.model_dump(), "regression")


@given(recommendations(), recommendations())
def test_a_different_slo_is_never_compared(current: Recommendation, previous: Recommendation) -> None:
    other = previous.model_copy(update={"slo": Slo(percentile="p99", max_latency_ms=80)})
    check = check_regressions(current, other)
    assert (check.compared, check.regressions) == (False, [])
    assert check.note is not None and "SLO changed" in check.note


# --- cases ------------------------------------------------------------------------------------


def test_a_changed_recommendation_names_both_and_the_cost_change() -> None:
    previous = rec([entry("ml.c7g.large", 0.38, 51.7), entry("ml.g5.xlarge", 0.41, 20.0)])
    current = rec([entry("ml.c7g.large", 0.45, 85.0), entry("ml.g5.xlarge", 0.41, 20.0)])
    found = detect_regressions(current, previous)
    assert kinds(found) == ["recommendation_changed", "previous_winner_misses_slo"]
    changed, misses = found
    assert changed.message == (
        "The recommendation changed from ml.c7g.large to ml.g5.xlarge "
        "($0.38 to $0.41 per 100k inferences, +7.9 %)."
    )
    assert (changed.previous_value, changed.current_value) == (0.38, 0.41)
    assert misses.message == (
        "ml.c7g.large, the previous recommendation, no longer meets P90 ≤ 80 ms: "
        "its P90 latency went from 51.7 ms to 85.0 ms, +64.4 %."
    )


def test_a_dearer_new_recommendation_is_also_a_cost_regression() -> None:
    previous = rec([entry("ml.c7g.large", 0.0412, 51.7)])
    current = rec([entry("ml.g5.xlarge", 0.0500, 20.0)])
    found = detect_regressions(current, previous)
    assert kinds(found) == [
        "recommendation_changed",
        "cost_increase",
        "previous_winner_not_measured",
    ]
    cost = found[1]
    assert cost.message == (
        "Cost per 100k inferences of the recommendation (ml.g5.xlarge) rose 21.4 %, "
        "from $0.0412 to $0.05 (threshold 10 %; point estimates: no interval to compare)."
    )
    assert found[2].message.endswith("(it was not among the candidates).")


def test_a_slower_same_winner_is_a_latency_regression() -> None:
    previous = rec([entry("ml.c7g.large", 0.38, 51.74)])
    current = rec([entry("ml.c7g.large", 0.38, 60.2)])
    (regression,) = detect_regressions(current, previous)
    assert regression.kind == "latency_increase"
    assert regression.message == (
        "P90 latency on ml.c7g.large rose 16.4 %, from 51.7 ms to 60.2 ms "
        "(threshold 10 %; point estimates: no interval to compare)."
    )
    assert regression.unit == "ms"
    assert regression.threshold_pct == pytest.approx(10)


def test_a_failed_previous_winner_is_reported_with_its_error() -> None:
    previous = rec([entry("ml.c7g.large", 0.38, 51.7), entry("ml.g5.xlarge", 0.40, 20.0)])
    failure = CandidateFailure(
        candidate=Candidate(instance_type="ml.c7g.large"),
        status="FAILED",
        error="endpoint did not reach InService within 1800 s",
    )
    current = rec([entry("ml.g5.xlarge", 0.40, 20.0)], failures=[failure])
    found = detect_regressions(current, previous)
    assert kinds(found) == ["recommendation_changed", "previous_winner_not_measured"]
    assert found[1].message == (
        "ml.c7g.large, the previous recommendation, was not measured this time "
        "(it failed: endpoint did not reach InService within 1800 s)."
    )


def test_nothing_meeting_the_slo_any_more_is_reported() -> None:
    previous = rec([entry("ml.c7g.large", 0.38, 51.7)])
    current = rec([entry("ml.c7g.large", 0.38, 90.0)])
    found = detect_regressions(current, previous)
    assert kinds(found) == ["recommendation_changed", "previous_winner_misses_slo"]
    assert found[0].message == (
        "No candidate meets P90 ≤ 80 ms any more; the previous recommendation was "
        "ml.c7g.large at $0.38 per 100k inferences."
    )


def test_a_cost_rising_from_zero_is_a_regression_without_a_percentage() -> None:
    previous = rec([entry("ml.c7g.large", 0.0, 51.7)])
    current = rec([entry("ml.c7g.large", 0.02, 51.7)])
    (regression,) = detect_regressions(current, previous)
    assert regression.kind == "cost_increase"
    assert regression.change_pct is None
    assert "from $0.00 to $0.02" in regression.message


@pytest.mark.parametrize(
    ("previous", "note"),
    [
        (None, "No earlier successful run with the SLO P90 ≤ 80 ms"),
        (rec([entry("ml.c7g.large", 0.38, 90.0)]), "the previous run recommended nothing"),
        (rec([entry("ml.c7g.large", 0.38, 51.7)], model="resnet50"), "of model 'resnet50'"),
    ],
)
def test_nothing_is_compared_without_a_comparable_previous_run(
    previous: Recommendation | None, note: str
) -> None:
    current = rec([entry("ml.c7g.large", 9.0, 79.0)])
    check = check_regressions(current, previous)
    assert (check.compared, check.regressions) == (False, [])
    assert check.note is not None and note in check.note
    assert detect_regressions(current, previous) == []


@pytest.mark.parametrize("threshold", [-0.1, math.nan, math.inf])
def test_a_threshold_must_be_a_finite_non_negative_fraction(threshold: float) -> None:
    current = rec([entry("ml.c7g.large", 0.38, 51.7)])
    with pytest.raises(InputError) as raised:
        detect_regressions(current, current, threshold=threshold)
    assert raised.value.field == "threshold"


def test_regressions_serialize_for_the_run_record() -> None:
    previous = rec([entry("ml.c7g.large", 0.38, 51.7)])
    current = rec([entry("ml.c7g.large", 0.50, 51.7)])
    data: list[dict[str, Any]] = [r.model_dump(mode="json") for r in detect_regressions(current, previous)]
    assert [Regression.model_validate(d) for d in data] == detect_regressions(current, previous)
