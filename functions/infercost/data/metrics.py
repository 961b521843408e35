"""Server-side latency from CloudWatch for the exact window of the measured run (docs/method.md, section 2).

Reads `ModelLatency` and `OverheadLatency` (µs, reported in ms), `Invocations`, the 4XX/5XX
error counts from `AWS/SageMaker`, and instance utilization from `/aws/sagemaker/Endpoints`.
Metrics arrive late, so `collect_endpoint_metrics` polls until `SampleCount` reaches the number
of measured requests and stops growing, or reports what it has as partial. Every function takes
the boto3 CloudWatch client as an argument.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from infercost.domain.confidence import DEFAULT_LEVEL, Interval, mean_interval, order_statistic_ranks
from infercost.domain.models import PERCENTILES, QUANTILES
from infercost.domain.results import LatencyConfidence, LatencyStats

NAMESPACE = "AWS/SageMaker"
UTILIZATION_NAMESPACE = "/aws/sagemaker/Endpoints"
BUFFER_S = 300  # metrics for the run may arrive with timestamps up to 5 minutes late
UTILIZATION_METRICS = (
    "CPUUtilization",
    "MemoryUtilization",
    "DiskUtilization",
    "GPUUtilization",
    "GPUMemoryUtilization",
)
_EXTENDED = ("p50", "p90", "p95", "p99", "p100")
# GetMetricStatistics takes at most 10 ExtendedStatistics in one call (the API reference:
# "Maximum number of 10 items"; botocore's model of the API says the same).
MAX_EXTENDED_STATISTICS = 10


class MetricWindow(BaseModel):
    """Start of the measured run to its end plus 5 minutes; one period covers the whole run."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    period_s: int = Field(ge=60, multiple_of=60)


class EndpointMetrics(BaseModel):
    """What CloudWatch recorded for one endpoint variant in a window."""

    model_config = ConfigDict(frozen=True)

    model_latency_ms: LatencyStats | None = None
    overhead_latency_ms: LatencyStats | None = None
    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    sample_count: int = Field(default=0, description="ModelLatency samples in the window")
    expected_count: int | None = None
    partial: bool = False
    utilization: dict[str, float] = Field(default_factory=dict, description="average %, by metric")
    window: MetricWindow
    polls: int = 1
    notes: list[str] = Field(default_factory=list)


def metric_window(started_at: float, ended_at: float, *, buffer_s: int = BUFFER_S) -> MetricWindow:
    """The window for a run from `started_at` to `ended_at` (epoch seconds)."""
    if ended_at < started_at:
        raise ValueError(f"the run ends ({ended_at}) before it starts ({started_at})")
    start = math.floor(started_at)
    # CloudWatch rounds a recent StartTime down to the minute: the period must reach from there
    # to the end of the run, so that one datapoint covers the whole run.
    minute_start = start - start % 60
    period_s = max(60, math.ceil((ended_at - minute_start) / 60) * 60)
    return MetricWindow(
        start=datetime.fromtimestamp(start, UTC),
        end=datetime.fromtimestamp(math.ceil(ended_at), UTC) + timedelta(seconds=buffer_s),
        period_s=period_s,
    )


def _dimensions(endpoint_name: str, variant: str) -> list[dict[str, str]]:
    return [
        {"Name": "EndpointName", "Value": endpoint_name},
        {"Name": "VariantName", "Value": variant},
    ]


def _datapoints(
    cloudwatch: Any, namespace: str, name: str, dims: Any, window: MetricWindow, **stats: Any
) -> list[dict[str, Any]]:
    response = cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dims,
        StartTime=window.start,
        EndTime=window.end,
        Period=window.period_s,
        **stats,
    )
    points: list[dict[str, Any]] = response.get("Datapoints", [])
    return sorted(points, key=lambda point: point["Timestamp"])


def _latency(
    cloudwatch: Any, name: str, dims: Any, window: MetricWindow, notes: list[str]
) -> tuple[LatencyStats | None, int]:
    """Latency stats in ms and the sample count. Two calls: the API takes Statistics or
    ExtendedStatistics, not both."""
    basic = _datapoints(
        cloudwatch, NAMESPACE, name, dims, window, Statistics=["Average", "SampleCount", "Maximum"]
    )
    count = sum(int(point.get("SampleCount", 0)) for point in basic)
    if not count:
        return None, 0
    extended = _datapoints(cloudwatch, NAMESPACE, name, dims, window, ExtendedStatistics=list(_EXTENDED))
    weights = {point["Timestamp"]: float(point.get("SampleCount", 0)) for point in basic}
    average_us = sum(point["Average"] * point["SampleCount"] for point in basic) / count
    values: dict[str, float] = {"avg": average_us / 1000}
    values["max"] = max(point["Maximum"] for point in basic) / 1000
    if len(extended) > 1:
        notes.append(
            f"{name}: the run spans {len(extended)} datapoints; percentiles are their "
            "sample-weighted average (approximate)"
        )
    for stat, field in zip(_EXTENDED[:-1], PERCENTILES[:-1], strict=True):
        pairs = [
            (point.get("ExtendedStatistics", {}).get(stat), weights.get(point["Timestamp"], 0.0))
            for point in extended
        ]
        pairs = [(value, weight) for value, weight in pairs if value is not None and weight]
        if pairs:
            total = sum(weight for _, weight in pairs)
            values[field] = sum(value * weight for value, weight in pairs) / total / 1000
    return LatencyStats(**values), count


def _total(cloudwatch: Any, name: str, dims: Any, window: MetricWindow) -> int:
    points = _datapoints(cloudwatch, NAMESPACE, name, dims, window, Statistics=["Sum"])
    return round(sum(point.get("Sum", 0.0) for point in points))


def read_endpoint_metrics(
    cloudwatch: Any, endpoint_name: str, window: MetricWindow, *, variant: str = "AllTraffic"
) -> EndpointMetrics:
    """One read of everything CloudWatch has for the endpoint variant in `window`."""
    dims = _dimensions(endpoint_name, variant)
    notes: list[str] = []
    model, sample_count = _latency(cloudwatch, "ModelLatency", dims, window, notes)
    overhead, _ = _latency(cloudwatch, "OverheadLatency", dims, window, notes)
    utilization: dict[str, float] = {}
    for name in UTILIZATION_METRICS:
        points = _datapoints(cloudwatch, UTILIZATION_NAMESPACE, name, dims, window, Statistics=["Average"])
        if points:
            utilization[name] = sum(point["Average"] for point in points) / len(points)
    return EndpointMetrics(
        model_latency_ms=model,
        overhead_latency_ms=overhead,
        invocations=_total(cloudwatch, "Invocations", dims, window),
        errors_4xx=_total(cloudwatch, "Invocation4XXErrors", dims, window),
        errors_5xx=_total(cloudwatch, "Invocation5XXErrors", dims, window),
        sample_count=sample_count,
        utilization=utilization,
        window=window,
        notes=notes,
    )


def collect_endpoint_metrics(
    cloudwatch: Any,
    endpoint_name: str,
    *,
    started_at: float,
    ended_at: float,
    expected_count: int,
    variant: str = "AllTraffic",
    poll_interval_s: float = 30.0,
    deadline_s: float = 600.0,
    backoff: float = 1.5,
    max_interval_s: float = 120.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> EndpointMetrics:
    """Poll (with backoff) until SampleCount reaches `expected_count` and stops growing.

    When `deadline_s` passes first, the last read is returned with `partial=True`.
    """
    window = metric_window(started_at, ended_at)
    begin = clock()
    interval = poll_interval_s
    previous = -1
    polls = 0
    while True:
        metrics = read_endpoint_metrics(cloudwatch, endpoint_name, window, variant=variant)
        polls += 1
        count = metrics.sample_count
        if count >= expected_count and count == previous:
            return metrics.model_copy(update={"expected_count": expected_count, "polls": polls})
        remaining = deadline_s - (clock() - begin)
        if remaining <= 0:
            notes = list(metrics.notes)
            partial = count < expected_count
            if partial:
                notes.append(
                    f"CloudWatch had {count} of {expected_count} ModelLatency samples "
                    f"after {deadline_s:g} s; figures cover what had arrived"
                )
            else:
                notes.append("the sample count had not yet been seen to stop growing")
            return metrics.model_copy(
                update={
                    "expected_count": expected_count,
                    "partial": partial,
                    "polls": polls,
                    "notes": notes,
                }
            )
        # Once the count is reached, confirm it soon; before that, back off.
        wait = poll_interval_s if count >= expected_count else interval
        sleep(min(wait, remaining))
        if count < expected_count:
            interval = min(interval * backoff, max_interval_s)
        previous = count


def rank_statistic(rank: int, samples: int, side: str) -> str:
    """The CloudWatch percentile (two decimals) whose nearest rank is `rank` of `samples`, rounded
    outward: on the "low" side to a rank at or below it, on the "high" side at or above it.

    Nearest rank: pX is the ⌈X/100 × n⌉-th smallest value. Aiming at the middle of the rank's
    band, (rank − ½) ÷ n, keeps float rounding away from the band's edges; above 5,000 samples
    a band is narrower than 0.01 and the outward rounding widens the interval by a rank or so.
    """
    if not 1 <= rank <= samples:
        raise ValueError(f"rank {rank} is outside 1..{samples}")
    aim = (2 * rank - 1) * 5000  # hundredths of a percent, times `samples`
    hundredths = aim // samples if side == "low" else -(-aim // samples)
    if hundredths >= 10_000:
        return "p100"
    return f"p{hundredths // 100}.{hundredths % 100:02d}"


def read_latency_confidence(
    cloudwatch: Any,
    endpoint_name: str,
    window: MetricWindow,
    *,
    samples: int,
    avg_ms: float,
    std_ms: float | None,
    level: float = DEFAULT_LEVEL,
    variant: str = "AllTraffic",
) -> LatencyConfidence | None:
    """The server's own intervals: CloudWatch's ModelLatency percentiles at the bound ranks.

    The ranks come from the exact binomial method for `samples` (the datapoint's SampleCount).
    CloudWatch keeps no variance, so the mean's interval uses the client's spread, `std_ms`
    (network jitter included: if anything, wide). None when the run spans several datapoints
    (their percentiles are not order statistics of the whole) or a value is missing.
    """
    if samples < 1:
        return None
    dims = _dimensions(endpoint_name, variant)
    bounds: dict[str, tuple[str | None, str | None]] = {}
    for name in PERCENTILES:
        if QUANTILES[name] >= 1:
            continue
        low, high = order_statistic_ranks(samples, QUANTILES[name], level)
        bounds[name] = (
            rank_statistic(low, samples, "low") if low is not None else None,
            rank_statistic(high, samples, "high") if high is not None else None,
        )
    wanted = sorted({stat for pair in bounds.values() for stat in pair if stat is not None})
    values: dict[str, float] = {}
    for start in range(0, len(wanted), MAX_EXTENDED_STATISTICS):
        chunk = wanted[start : start + MAX_EXTENDED_STATISTICS]
        points = _datapoints(cloudwatch, NAMESPACE, "ModelLatency", dims, window, ExtendedStatistics=chunk)
        if len(points) != 1:
            return None
        values.update(points[0].get("ExtendedStatistics", {}))
    if any(values.get(stat) is None for stat in wanted):
        return None

    def ms(stat: str | None) -> float | None:
        return values[stat] / 1000 if stat is not None else None

    intervals: dict[str, Interval] = {name: (ms(low), ms(high)) for name, (low, high) in bounds.items()}
    return LatencyConfidence(
        level=level,
        samples=samples,
        intervals_ms=intervals,
        mean_ms=mean_interval(samples, avg_ms, std_ms, level) if std_ms is not None else None,
        method=(
            "exact binomial order statistics read from CloudWatch (ModelLatency at the bound ranks); "
            "the mean's interval with the client's spread"
        ),
    )
