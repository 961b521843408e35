"""The cost formulas of docs/method.md, section 4."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infercost.domain import costing
from infercost.domain.prices import ServerlessRates
from infercost.domain.traffic import TrafficProfile

RATES = ServerlessRates(compute_usd_per_gb_second=0.00002, data_usd_per_gb=0.016, source="snapshot")


def test_worked_example_of_the_seed_benchmark():
    # ml.c5.large + ml.eia2.medium at $0.287/h, 47.85 ms average -> $0.38 per 100k.
    cost = costing.cost_per_100k_serial(0.287, 47.85)
    assert round(cost, 2) == 0.38
    assert cost == pytest.approx(0.287 / 3600 * 0.04785 * 100_000)


def test_serial_cost_multiplies_by_instance_count():
    assert costing.cost_per_100k_serial(1.0, 10, instance_count=3) == pytest.approx(
        3 * costing.cost_per_100k_serial(1.0, 10)
    )


def test_throughput_cost_uses_max_rps_at_slo():
    # $1.41/h serving 50 req/s: 1.41 / (3600 * 50) * 100k = $0.7833
    assert costing.cost_per_100k_at_throughput(1.41, 50) == pytest.approx(0.78333, rel=1e-4)
    assert costing.cost_per_100k_at_throughput(1.41, 50, instance_count=2) == pytest.approx(1.56667, rel=1e-4)


def test_throughput_cost_is_undefined_without_a_passing_load_level():
    assert costing.cost_per_100k_at_throughput(1.0, 0) is None


def test_serverless_cost_counts_compute_by_memory_and_data_processed():
    # 4 GB for 100 ms = 0.4 GB-s * $0.00002 = $0.000008; plus 1 MB in+out * $0.016/GB.
    per_inference = costing.serverless_cost_per_inference(RATES, 4096, 100, request_kb=512, response_kb=512)
    assert per_inference == pytest.approx(0.000008 + 0.016 / 1024)
    assert costing.serverless_cost_per_100k(RATES, 4096, 100) == pytest.approx(0.8)


def test_monthly_projection_sizes_the_fleet_for_the_peak_from_the_sweep():
    traffic = TrafficProfile(requests_per_month=10_000_000, peak_rps=45)
    projection = costing.monthly_instance_projection(
        traffic, 1.0, avg_latency_ms=20, max_rps_at_slo=20, instance_count=1
    )
    assert projection.instances_needed == 3
    assert projection.monthly_cost_usd == pytest.approx(3 * 730)
    assert projection.basis == "max_rps_at_slo"
    assert projection.meets_peak


def test_monthly_projection_falls_back_to_serial_capacity_and_says_so():
    traffic = TrafficProfile(requests_per_month=1_000_000, peak_rps=20)
    projection = costing.monthly_instance_projection(traffic, 0.5, avg_latency_ms=150, max_rps_at_slo=None)
    # One request in flight at 150 ms serves 6.67 req/s: 20 req/s needs 3 instances.
    assert projection.instances_needed == 3
    assert projection.basis == "serial_latency"
    assert projection.note and "serial" in projection.note


def test_capacity_per_instance_divides_by_instance_count():
    traffic = TrafficProfile(requests_per_month=1, peak_rps=30)
    projection = costing.monthly_instance_projection(
        traffic, 1.0, avg_latency_ms=10, max_rps_at_slo=20, instance_count=2
    )
    assert projection.capacity_rps_per_instance == 10
    assert projection.instances_needed == 3


def test_monthly_projection_without_a_passing_level_cannot_meet_the_peak():
    traffic = TrafficProfile(requests_per_month=1, peak_rps=1)
    projection = costing.monthly_instance_projection(traffic, 1.0, avg_latency_ms=10, max_rps_at_slo=0)
    assert projection.instances_needed is None
    assert not projection.meets_peak
    assert projection.monthly_cost_usd is None


def test_serverless_projection_flags_a_peak_beyond_max_concurrency():
    traffic = TrafficProfile(requests_per_month=1_000_000, peak_rps=500)
    projection = costing.monthly_serverless_projection(
        traffic, RATES, memory_mb=2048, max_concurrency=10, avg_latency_ms=100
    )
    assert projection.capacity_rps_per_instance == pytest.approx(100)
    assert not projection.meets_peak
    assert projection.note and "throttled" in projection.note
    assert projection.monthly_cost_usd == pytest.approx(1_000_000 * 0.00002 * 2 * 0.1)


def test_benchmark_cost_is_endpoint_seconds_times_price():
    assert costing.benchmark_cost_usd(3.6, 600) == pytest.approx(0.6)
    assert costing.benchmark_cost_usd(3.6, 600, instance_count=2) == pytest.approx(1.2)


prices = st.floats(min_value=0.001, max_value=100, allow_nan=False)
latencies = st.floats(min_value=0.01, max_value=10_000, allow_nan=False)


@given(price=prices, latency=latencies, more=st.floats(min_value=0, max_value=10))
def test_cost_is_monotonic_in_price_and_latency(price, latency, more):
    base = costing.cost_per_100k_serial(price, latency)
    assert costing.cost_per_100k_serial(price + more, latency) >= base
    assert costing.cost_per_100k_serial(price, latency + more) >= base


@given(
    price=prices, rps=st.floats(min_value=0.01, max_value=10_000), more=st.floats(min_value=0, max_value=100)
)
def test_throughput_cost_falls_as_throughput_rises(price, rps, more):
    slower = costing.cost_per_100k_at_throughput(price, rps)
    faster = costing.cost_per_100k_at_throughput(price, rps + more)
    assert slower is not None and faster is not None
    assert faster <= slower


@given(peak=st.floats(min_value=0.01, max_value=10_000), capacity=st.floats(min_value=0.01, max_value=10_000))
def test_instances_needed_always_cover_the_peak(peak, capacity):
    needed = costing.instances_needed(peak, capacity)
    assert needed is not None
    assert needed * capacity >= peak * (1 - 1e-6)
    assert needed == 1 or (needed - 1) * capacity < peak
