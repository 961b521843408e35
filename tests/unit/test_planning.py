"""The pre-run estimate: timeline by the workflow's structure, cost, budget guard."""

from __future__ import annotations

import pytest

from infercost.domain.errors import InputError
from infercost.domain.formatting import minutes
from infercost.domain.models import EvaluationSpec
from infercost.domain.planning import PlanAssumptions, check_budget, expected_load_seconds, plan_run
from infercost.domain.workflow import DEFAULT_METRICS_FLUSH_S, MAX_RELEASE_DELAY_S

from .price_table import TablePrices

PRICES = TablePrices(
    {"ml.c5.large": 0.119, "ml.eia2.medium": 0.168, "ml.g4dn.xlarge": 0.736, "ml.c5.xlarge": 0.238}
)


def spec(**changes) -> EvaluationSpec:
    data = {
        "model": {
            "name": "densenet121",
            "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
        },
        "payload": {"body": "{}"},
        "candidates": [{"instance_type": "ml.c5.large"}, {"instance_type": "ml.g4dn.xlarge"}],
        "slo": {"percentile": "p90", "max_latency_ms": 100},
        "load": {"warmup": 100, "requests": 1000, "concurrency": [1]},
    } | changes
    return EvaluationSpec.model_validate(data)


def test_load_time_is_requests_times_the_slo_bound_plus_overhead():
    plan = spec(load={"warmup": 100, "requests": 900, "concurrency": [1, 2, 4], "requests_per_level": 400})
    # serial 1000 × 0.105 s = 105 s; sweep 400 × 0.105 / 2 + 400 × 0.105 / 4 = 21 + 10.5
    assert expected_load_seconds(plan.load, plan.slo, 5) == pytest.approx(136.5)
    assert expected_load_seconds(plan.load, plan.slo, 5, sweep=False) == pytest.approx(105)


def test_cost_is_endpoint_time_times_price_and_accelerated_instances_take_longer_to_create():
    assumptions = PlanAssumptions()
    estimate = plan_run(spec(), PRICES, max_concurrency=2, metrics_delay_s=60, assumptions=assumptions)
    cpu, gpu = estimate.candidates
    assert gpu.create_s > cpu.create_s
    assert cpu.endpoint_seconds == pytest.approx(
        assumptions.cpu_endpoint_create_s + cpu.load_s + cpu.release_wait_s + assumptions.teardown_s
    )
    assert cpu.cost_usd == pytest.approx(0.119 * cpu.endpoint_seconds / 3600)
    assert estimate.cost_usd == pytest.approx(cpu.cost_usd + gpu.cost_usd)
    # Two lanes: the wall time is the slower candidate plus workflow overhead.
    assert estimate.wall_seconds == pytest.approx(
        max(cpu.wall_seconds, gpu.wall_seconds) + assumptions.workflow_overhead_s
    )


def test_parallel_map_beats_the_sequential_seed_protocol_for_ten_candidates():
    candidates = [{"instance_type": t} for t in ("ml.c5.large", "ml.c5.xlarge", "ml.g4dn.xlarge")] + [
        {"instance_type": "ml.c5.large", "instance_count": n} for n in range(2, 9)
    ]
    estimate = plan_run(spec(candidates=candidates), PRICES, max_concurrency=4)
    infercost, seed, recommender = estimate.strategies
    assert len(estimate.candidates) == 10
    assert infercost.wall_seconds < seed.wall_seconds / 2
    assert recommender.wall_seconds == 45 * 60 and recommender.cost_usd is None


def test_concurrency_one_is_sequential():
    one = plan_run(spec(), PRICES, max_concurrency=1)
    assert one.wall_seconds == pytest.approx(
        sum(c.wall_seconds for c in one.candidates) + PlanAssumptions().workflow_overhead_s
    )


def test_the_endpoint_is_released_before_the_wait_for_cloudwatch():
    assumptions = PlanAssumptions()
    cpu, gpu = plan_run(spec(), PRICES, metrics_delay_s=60, assumptions=assumptions).candidates
    # The last minute closes half a minute after the run on average, then the 30 s flush.
    release = assumptions.minute_close_s + DEFAULT_METRICS_FLUSH_S
    assert release == 60 and cpu.release_wait_s == gpu.release_wait_s == release
    # 360 s create + 1100 requests × 0.105 s + 60 s release wait + 60 s DeleteEndpoint.
    assert cpu.endpoint_seconds == pytest.approx(360 + 115.5 + 60 + 60)
    assert gpu.endpoint_seconds == pytest.approx(540 + 115.5 + 60 + 60)
    assert cpu.cost_usd == pytest.approx(0.119 * 595.5 / 3600)
    # Kept through the metrics delay and the settle time, it would have lived 60 + 120 - 60 s longer.
    kept = 360 + 115.5 + 60 + assumptions.metrics_settle_s + assumptions.teardown_s
    assert kept - cpu.endpoint_seconds == pytest.approx(60 + assumptions.metrics_settle_s - release) == 120
    # The metrics delay has passed by the release; the settle time follows, in the wall time only.
    assert cpu.metrics_wait_s == pytest.approx(assumptions.metrics_settle_s)
    assert cpu.wall_seconds == pytest.approx(360 + 115.5 + 60 + 120)


def test_a_longer_metrics_delay_costs_wall_time_not_endpoint_time():
    short = plan_run(spec(), PRICES, metrics_delay_s=60)
    long = plan_run(spec(), PRICES, metrics_delay_s=300)
    assert long.endpoint_seconds == pytest.approx(short.endpoint_seconds)
    assert long.cost_usd == pytest.approx(short.cost_usd)
    # 240 s more of the delay is left after the 60 s release wait.
    assert long.candidates[0].metrics_wait_s - short.candidates[0].metrics_wait_s == pytest.approx(240)


def test_the_release_wait_never_exceeds_the_workflows_bound():
    assumptions = PlanAssumptions()
    assert assumptions.release_wait_seconds(0) == 30
    assert assumptions.release_wait_seconds(80) == MAX_RELEASE_DELAY_S == 90
    cpu = plan_run(spec(), PRICES, metrics_flush_s=80).candidates[0]
    assert cpu.endpoint_seconds == pytest.approx(360 + 115.5 + 90 + 60)


def test_serverless_benchmark_is_priced_per_request():
    estimate = plan_run(spec(candidates=[{"serverless": {"memory_mb": 2048}}]), PRICES)
    # 1100 requests × 2 GB × 0.1 s × $0.00002; a sweep level adds its requests.
    assert estimate.candidates[0].price_per_hour_usd is None
    assert estimate.candidates[0].cost_usd == pytest.approx(1100 * 2 * 0.1 * 0.00002)
    swept = plan_run(
        spec(
            candidates=[{"serverless": {"memory_mb": 2048}}], load={"requests": 1000, "concurrency": [1, 4]}
        ),
        PRICES,
    )
    assert swept.candidates[0].cost_usd == pytest.approx(2100 * 2 * 0.1 * 0.00002)


def test_budget_guard_refuses_an_estimate_over_the_budget():
    within = plan_run(spec(max_benchmark_cost_usd=5), PRICES)
    assert within.within_budget
    check_budget(within)
    over = plan_run(spec(max_benchmark_cost_usd=0.01), PRICES)
    assert not over.within_budget
    with pytest.raises(InputError) as caught:
        check_budget(over)
    assert caught.value.field == "max_benchmark_cost_usd"
    assert "exceeds the budget $0.01" in caught.value.message
    assert "ml.g4dn.xlarge" in caught.value.message


def test_minutes_formatting():
    assert minutes(59) == "1 min"
    assert minutes(3700) == "1 h 02 min"
