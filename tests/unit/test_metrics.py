"""CloudWatch reads: the window arithmetic, one read, polling until settled, the partial path."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from infercost.data.metrics import (
    collect_endpoint_metrics,
    metric_window,
    read_endpoint_metrics,
)
from infercost.local import cloudwatch as local_cloudwatch

ENDPOINT = "infercost-run1-01-c7g-large"
DIMENSIONS = [
    {"Name": "EndpointName", "Value": ENDPOINT},
    {"Name": "VariantName", "Value": "AllTraffic"},
]
RUN_START = 1_700_000_000.25  # epoch seconds


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    local_cloudwatch.install()
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def put_latencies(cloudwatch: Any, at: float, values_us: list[float], *, name: str = "ModelLatency") -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": DIMENSIONS,
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "Unit": "Microseconds",
                "Values": values_us,
            },
            {
                "MetricName": "Invocations",
                "Dimensions": DIMENSIONS,
                "Timestamp": datetime.fromtimestamp(at, UTC),
                "Value": float(len(values_us)),
            },
        ],
    )


@pytest.mark.parametrize(
    ("elapsed_s", "period_s"),
    [(0.5, 60), (59.9, 60), (59.75, 60), (60.5, 120), (119.0, 120), (3599.5, 3600), (0.0, 60)],
)
def test_period_rounds_the_run_up_to_whole_minutes(elapsed_s: float, period_s: int) -> None:
    on_the_minute = 1_699_999_980  # a multiple of 60
    window = metric_window(on_the_minute, on_the_minute + elapsed_s)
    assert window.period_s == period_s


def test_the_window_starts_at_the_whole_second_and_covers_the_run_from_there() -> None:
    # The start is rounded down, so 59.9 s from .25 s past reach 60.15 s: two minutes.
    window = metric_window(RUN_START, RUN_START + 59.9)
    assert window.start == datetime.fromtimestamp(1_700_000_000, UTC)
    assert window.period_s == 120


def test_the_period_reaches_from_the_minute_cloudwatch_rounds_the_start_down_to() -> None:
    # A 50 s run starting 50 s past a minute ends 40 s into the next one: CloudWatch's first
    # datapoint starts at the earlier minute, so only a 120 s period covers the whole run.
    minute = 1_699_999_980
    window = metric_window(minute + 50, minute + 100)
    assert window.period_s == 120


@given(st.floats(0, 10**7), st.floats(0, 86_400))
def test_one_period_covers_the_run_and_the_end_has_a_five_minute_buffer(start: float, elapsed: float) -> None:
    window = metric_window(start, start + elapsed)
    run_end = datetime.fromtimestamp(start + elapsed, UTC)
    minute_floor = window.start - timedelta(seconds=window.start.timestamp() % 60)
    assert window.period_s % 60 == 0
    assert minute_floor + timedelta(seconds=window.period_s) >= run_end
    # No larger than needed: measured in float seconds, as the window is (a datetime would round
    # a run that ends 0.4 µs past a minute down onto the minute).
    assert window.period_s - 60 < (start + elapsed) - minute_floor.timestamp() or window.period_s == 60
    assert timedelta(seconds=299.999) <= window.end - run_end <= timedelta(seconds=301)


def test_a_run_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        metric_window(10.0, 9.0)


def test_one_read_converts_microseconds_and_counts(cloudwatch: Any) -> None:
    values_us = [float(1000 * n) for n in range(1, 101)]  # 1 .. 100 ms
    put_latencies(cloudwatch, RUN_START + 1, values_us)
    put_latencies(cloudwatch, RUN_START + 2, [500.0] * 10, name="OverheadLatency")
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocation5XXErrors",
                "Dimensions": DIMENSIONS,
                "Value": 3.0,
                "Timestamp": datetime.fromtimestamp(RUN_START + 1, UTC),
            },
        ],
    )
    cloudwatch.put_metric_data(
        Namespace="/aws/sagemaker/Endpoints",
        MetricData=[
            {
                "MetricName": "CPUUtilization",
                "Dimensions": DIMENSIONS,
                "Value": value,
                "Timestamp": datetime.fromtimestamp(RUN_START + 1, UTC),
            }
            for value in (40.0, 60.0)
        ],
    )
    window = metric_window(RUN_START, RUN_START + 30)
    metrics = read_endpoint_metrics(cloudwatch, ENDPOINT, window)
    latency = metrics.model_latency_ms
    assert latency is not None
    assert latency.avg == pytest.approx(50.5)
    assert (latency.p50, latency.p90, latency.p95, latency.p99, latency.max) == (
        50,
        90,
        95,
        99,
        100,
    )
    assert metrics.overhead_latency_ms is not None and metrics.overhead_latency_ms.p50 == 0.5
    assert metrics.sample_count == 100
    assert metrics.invocations == 110
    assert (metrics.errors_4xx, metrics.errors_5xx) == (0, 3)
    assert metrics.utilization == {"CPUUtilization": 50.0}
    assert not metrics.partial


def test_data_outside_the_window_or_of_another_endpoint_are_not_read(cloudwatch: Any) -> None:
    put_latencies(cloudwatch, RUN_START - 5, [9_000_000.0])  # the warm-up, before the run
    put_latencies(cloudwatch, RUN_START + 1, [2000.0, 4000.0])
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "ModelLatency",
                "Value": 7.0,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": "other"},
                    {"Name": "VariantName", "Value": "AllTraffic"},
                ],
                "Timestamp": datetime.fromtimestamp(RUN_START + 1, UTC),
            },
        ],
    )
    metrics = read_endpoint_metrics(cloudwatch, ENDPOINT, metric_window(RUN_START, RUN_START + 10))
    assert metrics.sample_count == 2
    assert metrics.model_latency_ms is not None and metrics.model_latency_ms.max == 4.0


def test_nothing_recorded_reads_as_empty(cloudwatch: Any) -> None:
    metrics = read_endpoint_metrics(cloudwatch, ENDPOINT, metric_window(RUN_START, RUN_START + 10))
    assert metrics.model_latency_ms is None and metrics.sample_count == 0
    assert metrics.invocations == 0 and metrics.utilization == {}


def test_a_run_across_two_datapoints_is_combined_and_says_so(cloudwatch: Any) -> None:
    put_latencies(cloudwatch, RUN_START + 1, [1000.0] * 30)
    put_latencies(cloudwatch, RUN_START + 125, [3000.0] * 10)  # past the 120 s period
    metrics = read_endpoint_metrics(cloudwatch, ENDPOINT, metric_window(RUN_START, RUN_START + 50))
    assert metrics.sample_count == 40
    assert metrics.model_latency_ms is not None
    assert metrics.model_latency_ms.avg == pytest.approx(1.5)
    assert metrics.model_latency_ms.p50 == pytest.approx(1.5)  # (30·1 + 10·3) / 40
    assert any("spans 2 datapoints" in note for note in metrics.notes)


class FakeTime:
    """A clock that advances only when the code under test sleeps; data arrive meanwhile."""

    def __init__(self, arrivals: list[list[float]], cloudwatch: Any) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.arrivals = arrivals
        self.cloudwatch = cloudwatch

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.arrivals and (values := self.arrivals.pop(0)):
            put_latencies(self.cloudwatch, RUN_START + 1, values)


def test_polling_waits_until_the_count_is_reached_and_stops_growing(cloudwatch: Any) -> None:
    fake = FakeTime([[1000.0] * 40, [1000.0] * 60, [], [1000.0] * 5], cloudwatch)
    metrics = collect_endpoint_metrics(
        cloudwatch,
        ENDPOINT,
        started_at=RUN_START,
        ended_at=RUN_START + 20,
        expected_count=100,
        poll_interval_s=10,
        deadline_s=600,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    # Reads: 0, 40 (after 10 s), 100 (after 15 s, backed off), 100 again (confirm after 10 s).
    assert fake.sleeps == [10, 15, 10]
    assert metrics.sample_count == 100 and not metrics.partial
    assert metrics.polls == 4 and metrics.expected_count == 100


def test_polling_reports_what_it_has_when_the_deadline_passes(cloudwatch: Any) -> None:
    fake = FakeTime([[1000.0] * 10] * 50, cloudwatch)
    metrics = collect_endpoint_metrics(
        cloudwatch,
        ENDPOINT,
        started_at=RUN_START,
        ended_at=RUN_START + 20,
        expected_count=1000,
        poll_interval_s=30,
        deadline_s=200,
        max_interval_s=60,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert metrics.partial
    assert fake.now == 200
    assert max(fake.sleeps) <= 60
    assert metrics.sample_count == 10 * len(fake.sleeps) < 1000
    assert any(f"{metrics.sample_count} of 1000" in note for note in metrics.notes)


def test_a_count_reached_at_the_deadline_is_not_partial(cloudwatch: Any) -> None:
    put_latencies(cloudwatch, RUN_START + 1, [1000.0] * 5)
    fake = FakeTime([[1000.0] * 5], cloudwatch)
    metrics = collect_endpoint_metrics(
        cloudwatch,
        ENDPOINT,
        started_at=RUN_START,
        ended_at=RUN_START + 20,
        expected_count=5,
        poll_interval_s=10,
        deadline_s=5,
        sleep=fake.sleep,
        clock=fake.clock,
    )
    assert not metrics.partial and metrics.sample_count == 10
    assert any("not yet been seen to stop growing" in note for note in metrics.notes)
