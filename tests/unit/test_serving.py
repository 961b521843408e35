"""One answer (docs/method.md §7): objectives, autoscaling, serving modes, Savings Plans, the template."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infercost.domain.autoscaling import AutoscalingSettings, minute_curve, plan_autoscaling, simulate
from infercost.domain.errors import InputError
from infercost.domain.models import EvaluationSpec, Slo, parse_model
from infercost.domain.prices import SavingsPlanRate, ServerlessRates
from infercost.domain.recommend import recommend
from infercost.domain.results import CandidateResult, ResultsFile
from infercost.domain.serving import serving_options
from infercost.domain.traffic import ServingSpec, TrafficProfile
from infercost.report.cloudformation import template

from .price_table import TablePrices

PRICES = TablePrices({"ml.c5.large": 0.119, "ml.g4dn.xlarge": 0.736, "ml.c5.xlarge": 0.238})
P90_80 = Slo(percentile="p90", max_latency_ms=80)
DAY = [0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3, 5, 7, 8, 9, 10, 9, 8, 8, 7, 6, 4, 3, 2, 1.5, 1, 0.7]
RATES = ServerlessRates(compute_usd_per_gb_second=0.00002, data_usd_per_gb=0.016, source="snapshot")


def result(instance_type: str | None = "ml.c5.large", **extra) -> CandidateResult:
    candidate = extra.pop("candidate", None) or {"instance_type": instance_type}
    return CandidateResult.model_validate(
        {"candidate": candidate, "latency_ms": {"avg": 40, "p90": 50}, **extra}
    )


def results_file(*items: dict, **extra) -> ResultsFile:
    return ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "m",
            "region": "us-east-1",
            "slo": P90_80.model_dump(),
            "results": list(items),
            **extra,
        }
    )


# --- traffic ----------------------------------------------------------------------------------


def test_a_daily_curve_gives_the_volume_and_the_peak():
    traffic = TrafficProfile(hourly_rps=DAY)
    assert traffic.peak_rps == 10
    assert traffic.requests_per_month == round(sum(DAY) / 24 * 3600 * 730)
    assert traffic.week_curve == DAY * 7


def test_a_curve_scaled_to_a_stated_volume_keeps_its_shape():
    traffic = TrafficProfile(hourly_rps=DAY, requests_per_month=1_000_000)
    assert traffic.requests_per_month == 1_000_000
    assert traffic.hourly_rps is not None
    assert traffic.hourly_rps[12] / traffic.hourly_rps[0] == pytest.approx(10 / 0.5)
    # Stored and read back, the profile is the same.
    assert TrafficProfile.model_validate(traffic.model_dump()) == traffic


@pytest.mark.parametrize(
    ("traffic", "field", "words"),
    [
        ({"hourly_rps": [1.0] * 23}, "traffic.hourly_rps", "has 23 values; give 24"),
        ({"hourly_rps": [1.0] * 23 + [-1.0]}, "traffic.hourly_rps", "hour 23 is negative"),
        ({"hourly_rps": [0.0] * 168}, "traffic.hourly_rps", "zero in every hour"),
        ({"hourly_rps": DAY, "peak_rps": 50}, "traffic.peak_rps", "not both"),
        ({"requests_per_month": 0, "peak_rps": 1}, "traffic.requests_per_month", "greater than 0"),
    ],
)
def test_bad_traffic_is_one_line_naming_the_field(traffic, field, words):
    spec = {"model": {"name": "m", "image_uri": None}, "payload": {"body": "{}"}, "traffic": traffic}
    with pytest.raises(InputError) as caught:
        parse_model(EvaluationSpec, spec)
    assert caught.value.field == field
    assert words in caught.value.one_line() and "\n" not in caught.value.one_line()


def test_a_batch_workload_needs_its_dataset_size():
    with pytest.raises(InputError) as caught:
        parse_model(ServingSpec, {"mode": "batch"}, prefix="serving")
    assert caught.value.field == "serving.dataset_requests"


# --- autoscaling ------------------------------------------------------------------------------


def test_the_minute_curve_passes_through_each_hours_mean_at_its_middle():
    minutes = minute_curve(DAY * 7)
    assert minutes[12 * 60 + 30] == pytest.approx(10)
    assert minutes[30] == pytest.approx(0.5)
    assert len(minutes) == 7 * 24 * 60


def test_autoscaling_follows_the_day_and_costs_less_than_the_peak_all_month():
    outcome = plan_autoscaling(DAY * 7, 4.0, AutoscalingSettings())
    assert outcome is not None
    always_on = math.ceil(10 / (4.0 * 0.7)) * 730
    assert outcome.policy.max_capacity == 4
    assert outcome.instance_hours < always_on
    assert outcome.hours_at_risk == 0
    assert outcome.policy.target_invocations_per_instance_per_minute == pytest.approx(4.0 * 0.7 * 60)


def test_a_slow_scale_out_raises_the_floor_until_no_minute_is_at_risk():
    # A step from 1 to 9 req/s: with capacity 4 and a 30-minute launch, one instance cannot wait.
    step = [1.0] * 8 + [9.0] * 10 + [1.0] * 6
    slow = AutoscalingSettings(scale_out_delay_minutes=30)
    free = simulate(minute_curve(step * 7), 4.0, slow, min_instances=1, max_instances=4)
    assert free.hours_at_risk > 0
    planned = plan_autoscaling(step * 7, 4.0, slow)
    assert planned is not None and planned.hours_at_risk == 0
    assert planned.policy.min_capacity > 1


curves = st.lists(st.floats(min_value=0, max_value=50, allow_nan=False), min_size=24, max_size=24).filter(
    lambda values: any(v > 0.01 for v in values)
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curve=curves, capacity=st.floats(min_value=0.5, max_value=40))
def test_simulated_autoscaling_never_costs_less_than_the_load_needs_at_full_capacity(curve, capacity):
    outcome = plan_autoscaling(curve * 7, capacity, AutoscalingSettings())
    assert outcome is not None
    assert outcome.instance_hours >= outcome.needed_instance_hours - 1e-6


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    curve=curves, factor=st.floats(min_value=1.0, max_value=4.0), price=st.floats(min_value=0.01, max_value=5)
)
def test_monthly_cost_is_monotonic_in_traffic_and_in_price(curve, factor, price):
    def month(values: list[float], hourly: float) -> float:
        options = serving_options(
            result(max_rps_at_slo=8.0),
            TrafficProfile(hourly_rps=values),
            ServingSpec(),
            P90_80,
            price_per_hour_usd=hourly,
            serverless_rates=None,
        )
        assert options[0].monthly_cost_usd is not None
        return options[0].monthly_cost_usd

    base = month(curve, price)
    assert month([v * factor for v in curve], price) >= base - 1e-6
    assert month(curve, price * factor) >= base - 1e-9


# --- objectives -------------------------------------------------------------------------------

measurements = st.lists(
    st.tuples(
        st.sampled_from(["ml.c5.large", "ml.c5.xlarge", "ml.g4dn.xlarge"]),
        st.floats(min_value=1, max_value=200),
        st.floats(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda item: item[0],
)


@settings(max_examples=40, deadline=None)
@given(items=measurements)
def test_the_per_inference_objective_reproduces_the_published_ranking(items):
    entries = [
        {"candidate": {"instance_type": t}, "latency_ms": {"avg": avg, "p90": avg + spread}}
        for t, avg, spread in items
    ]
    plain = recommend(results_file(*entries), PRICES)
    with_traffic = recommend(
        results_file(*entries, traffic={"hourly_rps": DAY}), PRICES, objective="per-inference"
    )
    assert [r.label for r in with_traffic.ranked] == [r.label for r in plain.ranked]
    assert with_traffic.recommended == plain.recommended or (
        with_traffic.recommended is not None
        and plain.recommended is not None
        and with_traffic.recommended.label == plain.recommended.label
    )
    assert sorted(plain.ranked, key=lambda r: r.cost_per_100k_usd) == plain.ranked


def test_the_three_objectives_can_pick_three_different_candidates():
    # c5.large: cheapest serially; g4dn: cheapest at sustained throughput; c5.xlarge with a high
    # measured throughput and a cheap hour: cheapest for a small month.
    file = results_file(
        {
            "candidate": {"instance_type": "ml.c5.large"},
            "latency_ms": {"avg": 20, "p90": 30},
            "max_rps_at_slo": 50,
        },
        {
            "candidate": {"instance_type": "ml.g4dn.xlarge"},
            "latency_ms": {"avg": 30, "p90": 40},
            "max_rps_at_slo": 2000,
        },
        traffic={"hourly_rps": DAY},
    )
    monthly = recommend(file, PRICES)
    assert monthly.objective == "monthly" and monthly.ranking_basis == "monthly"
    assert monthly.winners["per-inference"] == "ml.c5.large"
    assert monthly.winners["throughput"] == "ml.g4dn.xlarge"
    assert monthly.recommended is not None and monthly.recommended.label == "ml.c5.large"
    throughput = recommend(file, PRICES, objective="throughput")
    assert throughput.recommended is not None and throughput.recommended.label == "ml.g4dn.xlarge"
    assert "Objective" not in throughput.reason and "at sustained throughput" in throughput.reason
    assert "ml.c5.large" in throughput.reason  # the other objectives' winner is named


def test_objectives_that_lack_their_inputs_are_refused_naming_the_fix():
    plain = results_file(
        {"candidate": {"instance_type": "ml.c5.large"}, "latency_ms": {"avg": 20, "p90": 30}}
    )
    with pytest.raises(InputError) as monthly:
        recommend(plain, PRICES, objective="monthly")
    assert monthly.value.field == "objective" and "--objective per-inference" in (monthly.value.hint or "")
    with pytest.raises(InputError) as throughput:
        recommend(plain, PRICES, objective="throughput")
    assert "load.concurrency" in (throughput.value.hint or "")


# --- serving modes ----------------------------------------------------------------------------


def test_serverless_cold_starts_come_from_idle_hours_and_push_to_provisioned_concurrency():
    # One request every ~8 minutes: with a 10-minute keep-warm, e^(-0.002 × 600) ≈ 30 % start cold.
    quiet = TrafficProfile(hourly_rps=[0.002] * 24)
    cold = result(candidate={"serverless": {"memory_mb": 2048, "max_concurrency": 10}}, first_request_ms=1500)
    options = serving_options(
        cold, quiet, ServingSpec(), P90_80, price_per_hour_usd=None, serverless_rates=RATES
    )
    by_mode = {option.mode: option for option in options}
    on_demand = by_mode["serverless"]
    assert on_demand.cold_start_share == pytest.approx(math.exp(-0.002 * 600), rel=1e-3)
    assert not on_demand.meets_slo  # 1,500 ms cold starts on more than 10 % of requests
    provisioned = by_mode["serverless-provisioned"]
    assert provisioned.meets_slo and provisioned.provisioned_concurrency == 1
    assert provisioned.monthly_cost_usd > on_demand.monthly_cost_usd
    assert options[0].mode == "serverless-provisioned"  # the cheapest that meets comes first


def test_busy_serverless_traffic_rarely_starts_cold():
    busy = TrafficProfile(hourly_rps=[5.0] * 24)
    options = serving_options(
        result(candidate={"serverless": {"memory_mb": 2048}}, first_request_ms=1500),
        busy,
        ServingSpec(),
        P90_80,
        price_per_hour_usd=None,
        serverless_rates=RATES,
    )
    assert options[0].mode == "serverless" and options[0].meets_slo
    assert options[0].cold_start_share < 0.001


def test_async_scales_to_zero_in_idle_hours_and_reports_the_wait():
    curve = [0.0] * 12 + [6.0] * 12
    [option] = serving_options(
        result(max_rps_at_slo=4.0),
        TrafficProfile(hourly_rps=curve),
        ServingSpec(mode="async"),
        P90_80,
        price_per_hour_usd=0.119,
        serverless_rates=None,
    )
    # 12 busy hours a day × 2 instances (6 ÷ 4 rounded up), a 730-hour month.
    assert option.instance_hours == pytest.approx(12 * 2 * 730 / 24)
    assert option.queue_delay_s == 8 * 60 and option.policy.min_capacity == 0


def test_batch_job_hours_follow_the_measured_throughput():
    [option] = serving_options(
        result(max_rps_at_slo=50.0),
        TrafficProfile(requests_per_month=1, peak_rps=1),
        ServingSpec(mode="batch", dataset_requests=1_800_000, jobs_per_month=4),
        P90_80,
        price_per_hour_usd=0.119,
        serverless_rates=None,
    )
    assert option.job_hours == pytest.approx(10.0)  # 1.8 M ÷ 50/s ÷ 3600
    assert option.monthly_cost_usd == pytest.approx(4 * 10 * 0.119)


def test_many_models_share_instances_by_memory_and_cost_less_each():
    traffic = TrafficProfile(hourly_rps=[0.2] * 24)
    spec = ServingSpec(models_per_endpoint=20, model_memory_mb=900)
    [shared] = serving_options(
        result(max_rps_at_slo=20.0), traffic, spec, P90_80, price_per_hour_usd=0.119, serverless_rates=None
    )
    [alone] = serving_options(
        result(max_rps_at_slo=20.0),
        traffic,
        ServingSpec(),
        P90_80,
        price_per_hour_usd=0.119,
        serverless_rates=None,
    )
    # ml.c5.large: 4 GiB × 90 % ÷ 900 MB = 4 copies → at least 5 instances for 20 models.
    assert shared.copies_per_instance == 4 and shared.policy.min_capacity == 5
    assert shared.cost_per_model_usd < alone.monthly_cost_usd


def test_savings_plans_commit_to_what_runs_above_the_break_even_share():
    rates = (
        SavingsPlanRate(term_years=1, payment="no-upfront", usd_per_hour=0.08, source="snapshot"),
        SavingsPlanRate(term_years=3, payment="all-upfront", usd_per_hour=0.05, source="snapshot"),
    )
    [option] = serving_options(
        result(max_rps_at_slo=4.0),
        TrafficProfile(hourly_rps=DAY),
        ServingSpec(),
        P90_80,
        price_per_hour_usd=0.119,
        serverless_rates=None,
        savings_plans=rates,
    )
    best = option.best_plan
    assert best is not None and best.term_years == 3
    assert best.break_even_utilisation == pytest.approx(0.05 / 0.119)
    assert best.committed_instances >= option.policy.min_capacity
    assert 0 < best.saving_usd < option.monthly_cost_usd
    for plan in option.savings_plans:
        assert plan.monthly_cost_usd <= option.monthly_cost_usd


# --- what to deploy ---------------------------------------------------------------------------


def test_the_cloudformation_template_applies_the_simulated_policy():
    file = results_file(
        {
            "candidate": {"instance_type": "ml.c5.large"},
            "latency_ms": {"avg": 20, "p90": 30},
            "max_rps_at_slo": 4,
        },
        traffic={"hourly_rps": DAY},
    )
    answer = recommend(file, PRICES)
    body = template(answer)
    target = body["Resources"]["ScalableTarget"]["Properties"]
    policy = body["Resources"]["TargetTrackingPolicy"]["Properties"]
    assert answer.serving is not None and answer.serving.policy is not None
    # Application Auto Scaling's documented shapes for a SageMaker variant.
    assert target["ServiceNamespace"] == "sagemaker"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["ResourceId"] == {"Fn::Sub": "endpoint/${EndpointName}/variant/${VariantName}"}
    assert 1 <= target["MinCapacity"] <= target["MaxCapacity"]
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert (
        config["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert config["TargetValue"] == answer.serving.policy.target_invocations_per_instance_per_minute > 0
    assert isinstance(config["ScaleInCooldown"], int) and isinstance(config["ScaleOutCooldown"], int)


def test_a_serverless_template_stays_within_the_documented_ranges():
    file = results_file(
        {
            "candidate": {"serverless": {"memory_mb": 2048, "max_concurrency": 5}},
            "latency_ms": {"avg": 20, "p90": 30},
        },
        traffic={"hourly_rps": [3.0] * 24},
    )
    answer = recommend(file, TablePrices({}))
    variant = template(answer)["Resources"]["EndpointConfig"]["Properties"]["ProductionVariants"][0]
    config = variant["ServerlessConfig"]
    assert config["MemorySizeInMB"] in (1024, 2048, 3072, 4096, 5120, 6144)
    assert 1 <= config["MaxConcurrency"] <= 200
    assert 1 <= config.get("ProvisionedConcurrency", 1) <= config["MaxConcurrency"]


def test_nothing_to_emit_without_a_serving_choice_is_one_line():
    plain = results_file(
        {"candidate": {"instance_type": "ml.c5.large"}, "latency_ms": {"avg": 20, "p90": 30}}
    )
    with pytest.raises(InputError) as caught:
        template(recommend(plain, PRICES))
    assert caught.value.field == "--emit"


def test_a_costlier_month_is_a_regression_under_the_monthly_objective():
    from infercost.domain.regression import detect_regressions

    def run(price: float):
        return recommend(
            results_file(
                {
                    "candidate": {"instance_type": "ml.c5.large"},
                    "latency_ms": {"avg": 20, "p90": 30},
                    "max_rps_at_slo": 4,
                    "price_per_hour_usd": price,
                },
                traffic={"hourly_rps": DAY},
            ),
            PRICES,
        )

    before, after = run(0.119), run(0.15)
    kinds = {r.kind: r for r in detect_regressions(after, before)}
    monthly = kinds["monthly_cost_increase"]
    assert monthly.unit == "usd_per_month"
    assert monthly.change_pct == pytest.approx((0.15 / 0.119 - 1) * 100)
    assert "monthly_cost_increase" not in {r.kind for r in detect_regressions(before, before)}


def _streamed(instance_type: str, out_tps: float, goodput_rps: float) -> dict:
    return {
        "candidate": {"instance_type": instance_type},
        "latency_ms": {"avg": 40, "p90": 50},
        "llm": {
            "ttft_ms": {"avg": 50, "p90": 60},
            "itl_ms": {"avg": 20, "p90": 25},
            "output_tokens_per_s": out_tps,
            "goodput_rps": goodput_rps,
            "requests": 100,
            "output_tokens": 5000,
        },
    }


def test_streamed_results_rank_per_token_and_serve_a_month_on_their_goodput():
    # g4dn is cheaper per hour; c5.xlarge streams more tokens per dollar.
    items = (_streamed("ml.g4dn.xlarge", 100, 2.0), _streamed("ml.c5.xlarge", 60, 1.2))
    per_token = recommend(results_file(*items), PRICES)
    assert per_token.objective == "per-token" and per_token.ranking_basis == "output_tokens"
    assert per_token.recommended is not None and per_token.recommended.label == "ml.c5.xlarge"
    monthly = recommend(results_file(*items, traffic={"hourly_rps": DAY}), PRICES)
    assert monthly.objective == "monthly" and monthly.winners["per-token"] == "ml.c5.xlarge"
    by_label = {item.label: item for item in monthly.ranked}
    # Capacity per instance is the measured goodput, not the serial latency's 5 req/s.
    assert by_label["ml.c5.xlarge"].serving_choice.capacity_rps_per_instance == pytest.approx(1.2)
    with pytest.raises(InputError) as caught:
        recommend(results_file(result().model_dump()), PRICES, objective="per-token")
    assert caught.value.field == "objective"
