"""The SLO verdict on confidence intervals: meets, misses, uncertain (docs/method.md §8)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from infercost.domain.models import Candidate, Slo
from infercost.domain.recommend import recommend
from infercost.domain.results import LatencyStats, RankedCandidate, ResultsFile
from infercost.domain.sketch import LatencySketch

from .price_table import TablePrices

PRICES = TablePrices({"ml.c5.large": 0.119, "ml.c5.xlarge": 0.238, "ml.g4dn.xlarge": 0.736})
P90_80 = {"percentile": "p90", "max_latency_ms": 80}


def measured(
    instance_type: str,
    *,
    p90: float,
    interval: tuple[float | None, float | None] | None,
    n: int = 1000,
    **extra: Any,
) -> dict[str, Any]:
    """A result whose p90 carries `interval` (None: a typed-in result, no confidence)."""
    data: dict[str, Any] = {
        "candidate": {"instance_type": instance_type},
        "latency_ms": {"avg": p90 * 0.8, "p90": p90},
        **extra,
    }
    if interval is not None:
        data["confidence"] = {"samples": n, "intervals_ms": {"p90": list(interval)}, "method": "test"}
    return data


def results(*entries: dict[str, Any]) -> ResultsFile:
    return ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "m",
            "region": "us-east-1",
            "slo": P90_80,
            "results": list(entries),
        }
    )


def test_a_cheaper_candidate_whose_interval_straddles_the_bound_is_not_recommended() -> None:
    answer = recommend(
        results(
            measured("ml.c5.large", p90=78.2, interval=(74.9, 81.6)),  # cheapest, point under 80
            measured("ml.c5.xlarge", p90=60.0, interval=(58.0, 62.0)),
        ),
        PRICES,
    )
    unsure, sure = answer.ranked
    assert unsure.label == "ml.c5.large" and unsure.slo_status == "uncertain" and not unsure.meets_slo
    assert unsure.slo_interval_ms == (74.9, 81.6)
    assert unsure.slo_verdict == (
        "P90 78.2 ms (95 % CI 74.9–81.6) straddles 80 ms: uncertain; ~2,600 more requests would decide it"
    )
    assert answer.recommended is not None and answer.recommended.label == "ml.c5.xlarge"
    assert sure.slo_status == "meets" and sure.slo_verdict == "P90 60.0 ms (95 % CI 58.0–62.0) ≤ 80 ms"
    assert "1 of 2 is not known to meet the SLO; the cheapest of those, ml.c5.large" in answer.reason
    assert answer.warnings == []


def test_with_nothing_sure_the_answer_names_the_cheapest_that_might_meet_it() -> None:
    answer = recommend(
        results(
            measured("ml.c5.large", p90=95.0, interval=(90.0, 99.0)),
            measured("ml.g4dn.xlarge", p90=79.0, interval=(77.0, 82.0)),
        ),
        PRICES,
    )
    assert answer.recommended is None
    assert [item.slo_status for item in answer.ranked] == ["misses", "uncertain"]
    assert answer.reason.startswith(
        "No candidate of 2 is known to meet P90 ≤ 80 ms: the cheapest that might, ml.g4dn.xlarge, has "
        "P90 79.0 ms (95 % CI 77.0–82.0) straddles 80 ms: uncertain"
    )


def test_a_typed_in_table_keeps_the_point_rule_and_says_so() -> None:
    answer = recommend(results(measured("ml.c5.large", p90=79.9, interval=None)), PRICES)
    (item,) = answer.ranked
    assert item.slo_status == "meets" and item.meets_slo and item.slo_interval_ms is None
    assert item.slo_verdict == "P90 79.9 ms ≤ 80 ms"
    assert "point estimate: no interval (no sketch)" in item.warnings
    assert answer.warnings == ["point estimate: no interval (no sketch)"]
    assert answer.recommended is not None


def test_an_uncertain_latency_with_too_many_errors_misses_on_the_errors() -> None:
    answer = recommend(
        results(measured("ml.c5.large", p90=78.0, interval=(75.0, 82.0), invocations=100, errors=5)), PRICES
    )
    (item,) = answer.ranked
    assert item.slo_status == "misses" and item.slo_verdict == "error rate 5.0% > 1%"


def test_a_run_measured_by_the_client_is_judged_on_its_sketch() -> None:
    random.seed(3)
    sketch = LatencySketch(random.gauss(50, 5) for _ in range(1000))
    confidence = sketch.confidence()
    stats = sketch.stats()
    assert confidence is not None and stats is not None
    file = results(
        {
            "candidate": {"instance_type": "ml.c5.large"},
            "latency_ms": stats.model_dump(),
            "confidence": confidence.model_dump(mode="json"),
            "source": "client",
        }
    )
    answer = recommend(file, PRICES, slo=Slo(percentile="p90", max_latency_ms=stats.p90 or 0))
    (item,) = answer.ranked
    # The point on the bound: neither side of it is sure.
    assert item.slo_status == "uncertain" and "the estimate sits on the bound" in item.slo_verdict
    assert item.confidence == confidence
    stored = answer.to_json()["ranked"][0]
    assert stored["slo_status"] == "uncertain" and stored["confidence"]["samples"] == 1000
    assert stored["slo_interval_ms"] == list(confidence.intervals_ms["p90"])


def test_a_recommendation_stored_before_the_interval_rule_reads_its_verdict_as_a_status() -> None:
    stored = {
        "rank": 1,
        "candidate": Candidate(instance_type="ml.c5.large"),
        "label": "ml.c5.large",
        "price_per_hour_usd": 0.119,
        "price_source": "snapshot",
        "cost_per_100k_usd": 0.1,
        "latency_ms": LatencyStats(avg=40, p90=50),
        "slo_latency_ms": 50,
        "slo_verdict": "P90 50.0 ms ≤ 80 ms",
        "pareto_optimal": True,
    }
    assert RankedCandidate.model_validate({**stored, "meets_slo": True}).slo_status == "meets"
    assert RankedCandidate.model_validate({**stored, "meets_slo": False}).slo_status == "misses"


intervals = st.tuples(st.floats(min_value=1, max_value=200), st.floats(min_value=0, max_value=40)).map(
    lambda pair: (pair[0], pair[0] + pair[1])
)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["ml.c5.large", "ml.c5.xlarge", "ml.g4dn.xlarge"]), intervals, st.booleans()
        ),
        min_size=1,
        max_size=6,
    ),
    st.floats(min_value=1, max_value=250),
)
def test_only_a_candidate_whose_interval_is_under_the_bound_is_ever_recommended(
    drawn: list[tuple[str, tuple[float, float], bool]], bound: float
) -> None:
    entries = [
        measured(kind, p90=(lo + hi) / 2, interval=(lo, hi) if sure else None)
        for kind, (lo, hi), sure in drawn
    ]
    answer = recommend(results(*entries), PRICES, slo=Slo(percentile="p90", max_latency_ms=bound))
    for item in answer.ranked:
        assert item.meets_slo == (item.slo_status == "meets")
        if item.slo_interval_ms is not None:
            hi = item.slo_interval_ms[1]
            assert (item.slo_status == "meets") == (hi is not None and hi <= bound)
        else:
            assert (item.slo_status == "meets") == (item.slo_latency_ms <= bound)
    meeting = [item for item in answer.ranked if item.slo_status == "meets"]
    if meeting:
        assert answer.recommended is not None
        assert answer.recommended.cost_per_100k_usd == min(item.cost_per_100k_usd for item in meeting)
    else:
        assert answer.recommended is None


def test_a_load_test_results_file_carries_the_clients_intervals_and_is_judged_on_them() -> None:
    from array import array

    from infercost.measurement.results import LoadTestResult, RawLevel, results_document

    random.seed(5)
    raw = RawLevel(1, latencies_ms=array("d", (random.gauss(40, 4) for _ in range(500))), duration_s=20.0)
    load = LoadTestResult(
        started_at=0.0, ended_at=20.0, measured=raw.to_level(), slo=Slo.model_validate(P90_80)
    )
    document = results_document(load, model="m", candidate=Candidate(instance_type="ml.c5.large"))
    (entry,) = document["results"]
    assert entry["source"] == "client" and entry["confidence"]["samples"] == 500
    lo, hi = entry["confidence"]["intervals_ms"]["p90"]
    assert lo <= entry["latency_ms"]["p90"] <= hi
    answer = recommend(ResultsFile.model_validate(document), PRICES)
    assert answer.ranked[0].slo_status == "meets" and answer.ranked[0].slo_interval_ms == (lo, hi)


def test_with_a_traffic_profile_the_monthly_answer_also_says_uncertain_not_misses() -> None:
    file = ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "m",
            "region": "us-east-1",
            "slo": P90_80,
            "traffic": {"requests_per_month": 1_000_000, "peak_rps": 5},
            "results": [
                measured("ml.c5.large", p90=78.2, interval=(74.9, 81.6)),
                measured("ml.c5.xlarge", p90=60.0, interval=(58.0, 62.0)),
            ],
        }
    )
    answer = recommend(file, PRICES)
    assert answer.recommended is not None and answer.recommended.label == "ml.c5.xlarge"
    assert "1 of 2 is not known to meet the SLO (ml.c5.large: P90 78.2 ms (95 % CI 74.9–81.6) straddles" in (
        answer.reason
    )
