"""docs/method.md's worked examples, recomputed with the code that computes them in a run."""

from __future__ import annotations

import math
from pathlib import Path

from infercost.data.metrics import MAX_EXTENDED_STATISTICS, rank_statistic
from infercost.domain import confidence, costing
from infercost.domain.prices import ServerlessRates
from infercost.domain.results import LatencyConfidence
from infercost.domain.sketch import RELATIVE_ACCURACY
from infercost.domain.traffic import TrafficProfile
from infercost.domain.workflow import Timing, release_wait_seconds

METHOD = (Path(__file__).resolve().parents[2] / "docs" / "method.md").read_text(encoding="utf-8")


def test_the_published_example_costs_38_cents_per_100k() -> None:
    cost = costing.cost_per_100k_serial(0.287, 47.85)
    assert f"${cost:.2f}" == "$0.38"
    assert "= **$0.38** per 100,000 inferences" in METHOD


def test_the_throughput_example() -> None:
    cost = costing.cost_per_100k_at_throughput(1.4084, 198.1)
    assert cost is not None and f"= ${cost:.3f}." in METHOD


def test_the_monthly_instances_example() -> None:
    projection = costing.monthly_instance_projection(
        TrafficProfile(requests_per_month=5_000_000, peak_rps=10),
        0.0870,
        avg_latency_ms=33.8,
        max_rps_at_slo=None,
    )
    assert projection.instances_needed == 1 and projection.capacity_rps_per_instance is not None
    assert f"capacity 1000 ÷ 33.8 = {projection.capacity_rps_per_instance:.1f} req/s" in METHOD
    assert f"= ${projection.monthly_cost_usd:.2f} a month" in METHOD


def test_the_serverless_example() -> None:
    rates = ServerlessRates(compute_usd_per_gb_second=0.00002, data_usd_per_gb=0.016, source="snapshot")
    per_inference = costing.serverless_cost_per_inference(rates, 4096, 43.8)
    per_100k = costing.serverless_cost_per_100k(rates, 4096, 43.8)
    assert f"= ${per_inference:.7f} per inference, ${per_100k:.2f} per 100,000" in METHOD


def test_the_benchmark_cost_example() -> None:
    cost = costing.benchmark_cost_usd(1.4084, 560)
    assert f"= ${cost:.3f}." in METHOD


def test_the_release_example() -> None:
    # 12:00:15 (43,215 s after midnight) closes its minute at 12:01:00; +30 s flush: 75 s later.
    wait_s = release_wait_seconds(43_215.0, 43_215.0, Timing(metrics_flush_seconds=30))
    assert f"the\n  endpoint is deleted at 12:01:30, {wait_s} s after the last request" in METHOD


# §7, one answer -------------------------------------------------------------------------------

DAY = [0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3, 5, 7, 8, 9, 10, 9, 8, 8, 7, 6, 4, 3, 2, 1.5, 1, 0.7]


def _options(traffic: TrafficProfile, serving: object = None, **result: object) -> list:
    from infercost.domain.models import Slo
    from infercost.domain.prices import SavingsPlanRate
    from infercost.domain.results import CandidateResult
    from infercost.domain.serving import serving_options
    from infercost.domain.traffic import ServingSpec

    measured = CandidateResult.model_validate(
        {"candidate": {"instance_type": "ml.c5.large"}, "latency_ms": {"avg": 40, "p90": 50}, **result}
    )
    return serving_options(
        measured,
        traffic,
        serving or ServingSpec(),
        Slo(percentile="p90", max_latency_ms=80),
        price_per_hour_usd=0.119,
        serverless_rates=None,
        savings_plans=(
            SavingsPlanRate(term_years=3, payment="all-upfront", usd_per_hour=0.05, source="snapshot"),
        ),
    )


def test_the_traffic_curve_example() -> None:
    traffic = TrafficProfile(hourly_rps=DAY)
    assert (
        f"gives {traffic.requests_per_month:,} requests a month at a peak of {traffic.peak_rps:g} req/s"
        in METHOD
    )


def test_the_autoscaling_and_savings_plan_examples() -> None:
    [option] = _options(TrafficProfile(hourly_rps=DAY), max_rps_at_slo=4)
    policy = option.policy
    assert policy is not None
    assert f"target\n{policy.target_invocations_per_instance_per_minute:g} invocations" in METHOD
    assert f"policy {policy.min_capacity}–{policy.max_capacity} instances" in METHOD
    assert f"{option.instance_hours:,.1f} instance-hours a month" in METHOD
    assert f"**${option.monthly_cost_usd:.2f} a month**" in METHOD
    plan = option.best_plan
    assert plan is not None
    assert f"break-even {plan.break_even_utilisation:.0%}" in METHOD
    assert (
        f"so {plan.committed_instances} are committed: **${plan.monthly_cost_usd:.2f} a month**, ${plan.saving_usd:.2f}"
        in METHOD
    )


def test_the_cold_start_example() -> None:
    import math

    assert f"= {math.exp(-0.002 * 600):.1%} of requests start cold" in METHOD


def test_the_batch_and_multi_model_examples() -> None:
    from infercost.domain.traffic import ServingSpec

    [batch] = _options(
        TrafficProfile(requests_per_month=1, peak_rps=1),
        ServingSpec(mode="batch", dataset_requests=1_800_000, jobs_per_month=4),
        max_rps_at_slo=50,
    )
    assert (
        f"{batch.job_hours:.1f} hours a job; four jobs on ml.c5.large, ${batch.monthly_cost_usd:.2f} a month"
        in METHOD
    )
    traffic = TrafficProfile(hourly_rps=[0.2] * 24)
    [shared] = _options(traffic, ServingSpec(models_per_endpoint=20, model_memory_mb=900), max_rps_at_slo=4)
    [alone] = _options(traffic, max_rps_at_slo=4)
    assert shared.policy is not None
    assert (
        f"{shared.policy.min_capacity} instances all month,\n${shared.monthly_cost_usd:.2f}, "
        f"**${shared.cost_per_model_usd:.2f} per model** against ${alone.monthly_cost_usd:.2f}" in METHOD
    )


def test_the_confidence_interval_example() -> None:
    """Section 8's numbers, from the functions a run uses (ranks, tails, widening, verdict)."""
    section = METHOD.split("## 8. How sure: confidence intervals", 1)[1].split("\n## ", 1)[0]
    text = " ".join(section.split())
    n, q = 1000, 0.9
    lo_rank, hi_rank = confidence.order_statistic_ranks(n, q)
    assert lo_rank is not None and hi_rank is not None
    assert f"n = 1,000, q = 0.9 gives l = {lo_rank} and u = {hi_rank}" in text

    def cdf(k: int) -> float:
        return math.fsum(math.comb(n, i) * q**i * (1 - q) ** (n - i) for i in range(k + 1))

    below, above = cdf(lo_rank - 1), 1 - cdf(hi_rank - 1)
    assert f"P(B ≤ {lo_rank - 1}) = {below * 100:.2f} %" in text
    assert f"P(B ≥ {hi_rank}) = {above * 100:.2f} %" in text
    assert f"probability {(1 - below - above) * 100:.2f} %" in text

    # The sketch's reads, widened by its 1 % accuracy.
    lo, hi = 75.6 / (1 + RELATIVE_ACCURACY), 80.8 / (1 - RELATIVE_ACCURACY)
    assert f"x({lo_rank}) = 75.6 ms and x({hi_rank}) = 80.8 ms" in text
    assert f"75.6 ÷ 1.01 = {lo:.1f} ms to 80.8 ÷ 0.99 = {hi:.1f} ms" in text
    low_stat, high_stat = rank_statistic(lo_rank, n, "low"), rank_statistic(hi_rank, n, "high")
    assert f"({low_stat} and {high_stat} in the example" in text
    assert f"at most {MAX_EXTENDED_STATISTICS} ExtendedStatistics a call" in text

    needed = [confidence.samples_to_bound(quantile) for quantile in (0.5, 0.9, 0.95, 0.99)]
    assert "at least {} requests for P50, {} for P90, {} for P95 and {} for P99".format(*needed) in text

    mean = confidence.mean_interval(1000, 70.0, 8.0)
    assert mean is not None
    t = confidence.t_quantile(0.95, 999)
    assert f"t = {t:.4f} and the interval is {mean[0]:.1f} ms to {mean[1]:.1f} ms" in text

    judged = confidence.judge_slo(
        "p90", q, 78.2, 80, LatencyConfidence(samples=n, intervals_ms={"p90": (lo, hi)}, method="doc")
    )
    assert judged.status == "uncertain" and f'"{judged.verdict}"' in text
    more = confidence.requests_to_decide(n, lo, hi, 78.2, 80)
    assert more is not None and f"= {more:,} more requests would decide it" in text
