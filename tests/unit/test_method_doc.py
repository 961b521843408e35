"""docs/method.md's worked examples, recomputed with the code that computes them in a run."""

from __future__ import annotations

from pathlib import Path

from infercost.domain import costing
from infercost.domain.prices import ServerlessRates
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
