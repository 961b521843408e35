"""SLO filter, ranking, Pareto front and the explanation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost.domain.errors import InputError, MissingPriceError, UnknownNameError
from infercost.domain.models import Slo
from infercost.domain.recommend import ELASTIC_INFERENCE_WARNING, recommend
from infercost.domain.results import ResultsFile
from infercost.domain.traffic import TrafficProfile

from .price_table import TablePrices

PRICES = TablePrices(
    {"ml.c5.large": 0.119, "ml.eia2.medium": 0.168, "ml.g4dn.xlarge": 0.736, "ml.c5.xlarge": 0.238}
)


def results(*entries: dict, slo: dict | None = None, **extra) -> ResultsFile:
    data = {
        "schema": "infercost.results/v1",
        "model": "densenet121",
        "region": "us-east-1",
        "results": list(entries),
    }
    if slo is not None:
        data["slo"] = slo
    data.update(extra)
    return ResultsFile.model_validate(data)


def entry(instance_type: str | None = None, *, p90: float, avg: float, **extra) -> dict:
    candidate = extra.pop("candidate", None) or {"instance_type": instance_type}
    if "accelerator_type" in extra:
        candidate["accelerator_type"] = extra.pop("accelerator_type")
    return {
        "candidate": candidate,
        "latency_ms": {"avg": avg, "p50": avg, "p90": p90, **extra.pop("latency", {})},
        **extra,
    }


P90_80 = {"percentile": "p90", "max_latency_ms": 80}


def test_cheapest_candidate_meeting_the_slo_wins():
    answer = recommend(
        results(
            entry("ml.c5.large", p90=130, avg=120),  # cheapest but misses
            entry("ml.c5.large", accelerator_type="ml.eia2.medium", p90=51.74, avg=47.85),
            entry("ml.g4dn.xlarge", p90=22, avg=20),
            slo=P90_80,
        ),
        PRICES,
    )
    assert answer.recommended is not None
    assert answer.recommended.label == "ml.c5.large + ml.eia2.medium"
    assert answer.recommended.price_per_hour_usd == pytest.approx(0.287)
    assert round(answer.recommended.cost_per_100k_usd, 2) == 0.38
    assert [item.label for item in answer.ranked] == [
        "ml.c5.large + ml.eia2.medium",
        "ml.c5.large",
        "ml.g4dn.xlarge",
    ]
    assert [item.meets_slo for item in answer.ranked] == [True, False, True]
    assert "cheapest of 2 candidates that meet P90 ≤ 80 ms" in answer.reason
    assert "runner-up ml.g4dn.xlarge" in answer.reason


def test_nothing_meets_the_slo_gives_null_and_the_reason():
    answer = recommend(
        results(entry("ml.c5.large", p90=130, avg=120), entry("ml.g4dn.xlarge", p90=22, avg=20)),
        PRICES,
        slo=Slo(percentile="p90", max_latency_ms=10),
    )
    assert answer.recommended is None
    assert answer.to_json()["recommended"] is None
    assert "No candidate of 2 meets P90 ≤ 10 ms" in answer.reason
    assert "ml.g4dn.xlarge" in answer.reason and "22.0 ms" in answer.reason


def test_slo_bound_is_inclusive():
    answer = recommend(results(entry("ml.c5.large", p90=80, avg=70), slo=P90_80), PRICES)
    assert answer.recommended is not None


def test_command_line_slo_overrides_the_file():
    file = results(entry("ml.c5.large", p90=60, avg=50), slo=P90_80)
    assert recommend(file, PRICES, slo=Slo(percentile="p90", max_latency_ms=50)).recommended is None


def test_missing_slo_percentile_is_an_error_naming_the_field():
    file = results(
        entry("ml.c5.large", p90=60, avg=50),
        {"candidate": {"instance_type": "ml.c5.xlarge"}, "latency_ms": {"avg": 40}},
    )
    with pytest.raises(InputError) as caught:
        recommend(file, PRICES, slo=Slo(percentile="p90", max_latency_ms=80))
    assert caught.value.field == "results[1].latency_ms.p90"


def test_no_slo_anywhere_is_an_error():
    with pytest.raises(InputError, match="no SLO"):
        recommend(results(entry("ml.c5.large", p90=60, avg=50)), PRICES)


def test_unknown_instance_type_names_the_result():
    with pytest.raises(UnknownNameError) as caught:
        recommend(results(entry("ml.c5.huge", p90=1, avg=1), slo=P90_80), PRICES)
    assert caught.value.field == "results[0].candidate"


def test_price_in_the_results_file_overrides_the_price_book():
    answer = recommend(
        results(entry("ml.c5.huge", p90=1, avg=36, price_per_hour_usd=1.0), slo=P90_80), PRICES
    )
    assert answer.ranked[0].price_source == "results"
    assert answer.ranked[0].cost_per_100k_usd == pytest.approx(1.0)


def test_every_ranked_candidate_says_how_far_its_price_can_be_trusted():
    prices = TablePrices({"ml.c5.large": 0.119, "ml.c5.xlarge": 0.238}, basis={"ml.c5.xlarge": "derived"})
    answer = recommend(
        results(
            entry("ml.c5.large", p90=10, avg=10),
            entry("ml.c5.xlarge", p90=5, avg=5),
            entry("ml.g5.xlarge", p90=1, avg=1, price_per_hour_usd=9.0),
            entry("ml.g4dn.xlarge", p90=1, avg=1, price_per_hour_usd=9.0, price_source="live"),
            entry("ml.c5.2xlarge", p90=1, avg=1, price_per_hour_usd=9.0, price_source="snapshot"),
            entry("ml.m5.large", p90=1, avg=1, price_per_hour_usd=9.0, price_basis="derived"),
            entry(candidate={"serverless": {"memory_mb": 2048}}, p90=1, avg=1),
            slo=P90_80,
        ),
        prices,
    )
    basis = {item.label: item.price_basis for item in answer.ranked}
    assert basis == {
        "ml.c5.large": "published",
        "ml.c5.xlarge": "derived",
        "ml.g5.xlarge": "results",
        "ml.g4dn.xlarge": "live",
        # Priced from the snapshot by a run that predates the basis: not known.
        "ml.c5.2xlarge": None,
        "ml.m5.large": "derived",
        "serverless 2048 MB": "corroborated",
    }
    assert {item.label for item in answer.estimated_prices} == {"ml.c5.xlarge", "ml.m5.large"}
    assert {item["label"]: item["price_basis"] for item in answer.to_json()["ranked"]} == basis


def test_the_snapshot_date_is_given_only_when_the_snapshot_priced_something():
    from_file = recommend(
        results(entry("ml.c5.huge", p90=1, avg=1, price_per_hour_usd=1.0), slo=P90_80), PRICES
    )
    from_book = recommend(results(entry("ml.c5.large", p90=1, avg=1), slo=P90_80), PRICES)
    assert from_file.prices_as_of is None
    assert from_book.prices_as_of == PRICES.snapshot_as_of


def test_without_a_price_book_every_result_needs_a_price():
    with pytest.raises(MissingPriceError) as caught:
        recommend(results(entry("ml.c5.large", p90=1, avg=1), slo=P90_80), None)
    assert caught.value.field == "results[0].price_per_hour_usd"


def test_equal_costs_go_to_the_lower_latency():
    # Same price and average (so the same cost); the lower P90 ranks first.
    answer = recommend(
        results(
            entry(
                "ml.c5.large", p90=70, avg=50, candidate={"instance_type": "ml.c5.large", "instance_count": 2}
            ),
            entry("ml.c5.xlarge", p90=60, avg=50),
            slo=P90_80,
        ),
        PRICES,
    )
    assert answer.ranked[0].cost_per_100k_usd == pytest.approx(answer.ranked[1].cost_per_100k_usd)
    assert answer.ranked[0].label == "ml.c5.xlarge"


def test_error_rate_above_the_limit_fails_the_slo():
    answer = recommend(
        results(
            entry("ml.c5.large", p90=50, avg=40, invocations=1000, errors=30),
            entry("ml.c5.xlarge", p90=50, avg=40, invocations=1000, errors=0),
            slo=P90_80,
        ),
        PRICES,
    )
    cheap = next(item for item in answer.ranked if item.label == "ml.c5.large")
    assert not cheap.meets_slo
    assert "error rate 3.0%" in cheap.slo_verdict
    assert any("30 of 1000 requests failed" in w for w in cheap.warnings)
    assert answer.recommended is not None and answer.recommended.label == "ml.c5.xlarge"


def test_pareto_front_keeps_only_undominated_candidates():
    answer = recommend(
        results(
            entry("ml.c5.large", p90=60, avg=50),  # cheap, slowish
            entry("ml.c5.xlarge", p90=70, avg=60),  # dearer and slower: dominated
            entry("ml.g4dn.xlarge", p90=10, avg=20),  # dearer but fast
            slo=P90_80,
        ),
        PRICES,
    )
    front = {item.label for item in answer.ranked if item.pareto_optimal}
    assert front == {"ml.c5.large", "ml.g4dn.xlarge"}


def test_elastic_inference_carries_the_retirement_warning():
    answer = recommend(
        results(entry("ml.c5.large", accelerator_type="ml.eia2.medium", p90=50, avg=45), slo=P90_80), PRICES
    )
    assert ELASTIC_INFERENCE_WARNING in answer.ranked[0].warnings
    # A typed-in table has no sketch: its SLO verdict is a point estimate, and the answer says so.
    assert answer.warnings == [ELASTIC_INFERENCE_WARNING, "point estimate: no interval (no sketch)"]
    assert "closed to new customers" in answer.reason


def test_throughput_ranking_appears_only_when_every_candidate_was_swept():
    swept = results(
        entry("ml.c5.large", p90=50, avg=45, max_rps_at_slo=20),
        entry("ml.g4dn.xlarge", p90=10, avg=9, max_rps_at_slo=400),
        slo=P90_80,
    )
    answer = recommend(swept, PRICES)
    # Serial: c5.large is cheaper; at sustained throughput the GPU's 400 req/s wins.
    assert answer.recommended is not None and answer.recommended.label == "ml.c5.large"
    assert answer.recommended_at_throughput is not None
    assert answer.recommended_at_throughput.label == "ml.g4dn.xlarge"
    assert answer.throughput_ranking == ["ml.g4dn.xlarge", "ml.c5.large"]
    assert "At sustained throughput" in answer.reason
    partial = results(
        entry("ml.c5.large", p90=50, avg=45, max_rps_at_slo=20),
        entry("ml.g4dn.xlarge", p90=10, avg=9),
        slo=P90_80,
    )
    assert recommend(partial, PRICES).throughput_ranking is None


def test_serverless_is_priced_per_use():
    answer = recommend(
        results(
            entry(candidate={"serverless": {"memory_mb": 2048, "max_concurrency": 5}}, p90=120, avg=100),
            slo={"percentile": "p90", "max_latency_ms": 200},
        ),
        PRICES,
    )
    item = answer.ranked[0]
    assert item.price_per_hour_usd is None
    # 2 GB × 0.1 s × $0.00002 × 100k
    assert item.cost_per_100k_usd == pytest.approx(0.4)
    assert answer.to_json()["ranked"][0]["candidate"] == {
        "serverless": {"memory_mb": 2048, "max_concurrency": 5}
    }


def test_traffic_profile_adds_monthly_projection_and_names_the_cheapest_fleet():
    answer = recommend(
        results(
            entry("ml.c5.large", p90=50, avg=45, max_rps_at_slo=10),
            entry("ml.g4dn.xlarge", p90=10, avg=9, max_rps_at_slo=400),
            slo=P90_80,
        ),
        PRICES,
        traffic=TrafficProfile(requests_per_month=50_000_000, peak_rps=100),
    )
    by_label = {item.label: item for item in answer.ranked}
    assert by_label["ml.c5.large"].monthly.instances_needed == 10
    assert by_label["ml.g4dn.xlarge"].monthly.instances_needed == 1
    # 10 × 0.119 × 730 = $868.70 against 1 × 0.736 × 730 = $537.28; with traffic and no curve the
    # monthly objective provisions for the peak all month.
    assert answer.objective == "monthly"
    assert answer.recommended.label == "ml.g4dn.xlarge"
    assert "is 1 × ml.g4dn.xlarge always on: $537.28 a month" in answer.reason
    assert "38% less than ml.c5.large ($868.70, realtime)" in answer.reason
    # The published method's winner is named too, since it differs.
    assert answer.winners["per-inference"] == "ml.c5.large"
    assert "(the published method) ml.c5.large is cheapest" in answer.reason


def test_failures_in_the_file_are_carried_through():
    file = results(
        entry("ml.c5.large", p90=50, avg=45),
        slo=P90_80,
        failures=[
            {"candidate": {"instance_type": "ml.g4dn.xlarge"}, "status": "FAILED", "error": "endpoint Failed"}
        ],
    )
    assert recommend(file, PRICES).failures[0].error == "endpoint Failed"


# Properties ---------------------------------------------------------------------------------

types = st.sampled_from(["ml.c5.large", "ml.c5.xlarge", "ml.g4dn.xlarge"])
measurement = st.builds(
    lambda instance_type, avg, spread, count: entry(
        instance_type,
        avg=avg,
        p90=avg + spread,
        candidate={"instance_type": instance_type, "instance_count": count},
    ),
    types,
    st.floats(min_value=0.1, max_value=500),
    st.floats(min_value=0, max_value=200),
    st.integers(min_value=1, max_value=3),
)
slos = st.builds(
    lambda bound: Slo(percentile="p90", max_latency_ms=bound), st.floats(min_value=1, max_value=600)
)


@settings(max_examples=150, deadline=None)
@given(entries=st.lists(measurement, min_size=1, max_size=8), slo=slos)
def test_nothing_that_misses_the_slo_is_recommended_and_the_cheapest_passing_wins(entries, slo):
    answer = recommend(results(*entries), PRICES, slo=slo)
    passing = [item for item in answer.ranked if item.slo_latency_ms <= slo.max_latency_ms]
    if not passing:
        assert answer.recommended is None
        return
    assert answer.recommended is not None
    assert answer.recommended.slo_latency_ms <= slo.max_latency_ms
    assert answer.recommended.cost_per_100k_usd == min(item.cost_per_100k_usd for item in passing)


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(measurement, min_size=1, max_size=8), slo=slos, data=st.data())
def test_ranking_is_stable_under_input_order(entries, slo, data):
    shuffled = data.draw(st.permutations(entries))
    first = recommend(results(*entries), PRICES, slo=slo).to_json()
    second = recommend(results(*shuffled), PRICES, slo=slo).to_json()
    assert first["ranked"] == second["ranked"]
    assert first["recommended"] == second["recommended"]


@settings(max_examples=100, deadline=None)
@given(entries=st.lists(measurement, min_size=1, max_size=8), slo=slos)
def test_ranking_is_a_total_order_by_cost_then_latency(entries, slo):
    ranked = recommend(results(*entries), PRICES, slo=slo).ranked
    assert [item.rank for item in ranked] == list(range(1, len(ranked) + 1))
    keys = [(item.cost_per_100k_usd, item.slo_latency_ms) for item in ranked]
    assert keys == sorted(keys)


def test_a_candidate_that_never_met_the_slo_under_load_has_no_monthly_cost_and_the_answer_stores():
    from infercost.data.store import to_item

    answer = recommend(
        results(
            entry("ml.c5.large", p90=50, avg=45, max_rps_at_slo=0),
            entry("ml.g4dn.xlarge", p90=10, avg=9, max_rps_at_slo=400),
            slo=P90_80,
        ),
        PRICES,
        traffic=TrafficProfile(requests_per_month=1_000_000, peak_rps=10),
    )
    stuck = next(item for item in answer.ranked if item.label == "ml.c5.large")
    assert (
        stuck.monthly is not None and stuck.monthly.monthly_cost_usd is None and not stuck.monthly.meets_peak
    )
    assert "no concurrency level met the SLO" in stuck.warnings
    encoded = json.dumps(answer.to_json(), allow_nan=False)
    assert to_item({"recommendation": json.loads(encoded)})
