"""The cost formulas of docs/method.md (section 4), as pure functions of prices and measurements."""

from __future__ import annotations

import math

from infercost.domain.prices import ServerlessRates
from infercost.domain.results import MonthlyProjection
from infercost.domain.traffic import TrafficProfile

SECONDS_PER_HOUR = 3600
HOURS_PER_MONTH = 730
INFERENCES = 100_000
TOKENS = 1_000_000
KB_PER_GB = 1024 * 1024
MB_PER_GB = 1024


def cost_per_100k_serial(price_per_hour_usd: float, avg_latency_ms: float, instance_count: int = 1) -> float:
    """Seed formula: hourly price ÷ 3600 × average latency in seconds × 100,000 (one request in flight)."""
    return price_per_hour_usd * instance_count / SECONDS_PER_HOUR * (avg_latency_ms / 1000) * INFERENCES


def cost_per_100k_at_throughput(
    price_per_hour_usd: float, max_rps_at_slo: float, instance_count: int = 1
) -> float | None:
    """Cost at sustained throughput: price/h × instances ÷ (3600 × max RPS that meets the SLO) × 100,000.

    None when no load level met the SLO (max_rps_at_slo is 0): there is no throughput to price.
    """
    if max_rps_at_slo <= 0:
        return None
    return price_per_hour_usd * instance_count / (SECONDS_PER_HOUR * max_rps_at_slo) * INFERENCES


def cost_per_1m_tokens(
    price_per_hour_usd: float, tokens_per_s: float, instance_count: int = 1
) -> float | None:
    """Cost of a million tokens: price/h × instances ÷ 3600 ÷ tokens/s × 1,000,000; None at 0 tokens/s."""
    if tokens_per_s <= 0:
        return None
    return price_per_hour_usd * instance_count / SECONDS_PER_HOUR / tokens_per_s * TOKENS


def serverless_cost_per_inference(
    rates: ServerlessRates,
    memory_mb: int,
    avg_latency_ms: float,
    *,
    request_kb: float = 0.0,
    response_kb: float = 0.0,
) -> float:
    """Serverless: compute (GB of memory × seconds of duration) plus data processed in and out."""
    compute = rates.compute_usd_per_gb_second * (memory_mb / MB_PER_GB) * (avg_latency_ms / 1000)
    data = rates.data_usd_per_gb * (request_kb + response_kb) / KB_PER_GB
    return compute + data


def serverless_cost_per_100k(
    rates: ServerlessRates,
    memory_mb: int,
    avg_latency_ms: float,
    *,
    request_kb: float = 0.0,
    response_kb: float = 0.0,
) -> float:
    """Serverless cost of 100,000 inferences (no idle cost: it scales to zero)."""
    per_inference = serverless_cost_per_inference(
        rates, memory_mb, avg_latency_ms, request_kb=request_kb, response_kb=response_kb
    )
    return per_inference * INFERENCES


def serial_capacity_rps(avg_latency_ms: float) -> float | None:
    """Requests per second one instance serves with one request in flight; None for a zero latency."""
    return 1000 / avg_latency_ms if avg_latency_ms > 0 else None


def instances_needed(peak_rps: float, capacity_rps_per_instance: float) -> int | None:
    """Instances to serve the peak: ceil(peak ÷ capacity per instance); None when capacity is 0."""
    if capacity_rps_per_instance <= 0:
        return None
    # A tiny epsilon keeps 20 / (20/3) from becoming 3.0000000004 -> 4 instances.
    return max(1, math.ceil(peak_rps / capacity_rps_per_instance - 1e-9))


def monthly_instance_projection(
    traffic: TrafficProfile,
    price_per_hour_usd: float,
    *,
    avg_latency_ms: float,
    max_rps_at_slo: float | None,
    instance_count: int = 1,
) -> MonthlyProjection:
    """Always-on instances for a month, enough for the peak; capacity from the sweep, else serial latency."""
    capacity: float | None
    if max_rps_at_slo is not None:
        capacity = max_rps_at_slo / instance_count
        basis = "max_rps_at_slo"
    else:
        capacity = serial_capacity_rps(avg_latency_ms)
        basis = "serial_latency"
    needed = instances_needed(traffic.peak_rps, capacity) if capacity is not None else None
    if needed is None:
        return MonthlyProjection(
            instances_needed=None,
            monthly_cost_usd=None,
            capacity_rps_per_instance=capacity,
            basis=basis,
            meets_peak=False,
            note="no load level met the SLO, so no instance count serves the peak",
        )
    note = None
    if basis == "serial_latency":
        note = "capacity from serial latency (one request in flight); a concurrency sweep would refine it"
    return MonthlyProjection(
        instances_needed=needed,
        monthly_cost_usd=needed * price_per_hour_usd * HOURS_PER_MONTH,
        capacity_rps_per_instance=capacity,
        basis=basis,
        meets_peak=True,
        note=note,
    )


def monthly_serverless_projection(
    traffic: TrafficProfile,
    rates: ServerlessRates,
    *,
    memory_mb: int,
    max_concurrency: int,
    avg_latency_ms: float,
) -> MonthlyProjection:
    """Serverless for a month: pay per request; the peak must fit in max_concurrency."""
    per_inference = serverless_cost_per_inference(
        rates,
        memory_mb,
        avg_latency_ms,
        request_kb=traffic.request_kb,
        response_kb=traffic.response_kb,
    )
    per_invocation = serial_capacity_rps(avg_latency_ms)
    capacity = max_concurrency * per_invocation if per_invocation is not None else None
    meets_peak = capacity is None or traffic.peak_rps <= capacity
    note = None
    if not meets_peak:
        note = (
            f"peak {traffic.peak_rps:g} req/s exceeds what {max_concurrency} concurrent invocations "
            f"serve ({capacity:.1f} req/s); requests would be throttled"
        )
    return MonthlyProjection(
        instances_needed=None,
        monthly_cost_usd=traffic.requests_per_month * per_inference,
        capacity_rps_per_instance=capacity,
        basis="serverless",
        meets_peak=meets_peak,
        note=note,
    )


def benchmark_cost_usd(price_per_hour_usd: float, endpoint_seconds: float, instance_count: int = 1) -> float:
    """What measuring a candidate cost: endpoint-seconds × hourly price (× instances)."""
    return price_per_hour_usd * instance_count * endpoint_seconds / SECONDS_PER_HOUR
