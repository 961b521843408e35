"""The server's own intervals: CloudWatch percentiles at the bound ranks (docs/method.md §8)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from infercost.data.metrics import (
    MAX_EXTENDED_STATISTICS,
    metric_window,
    rank_statistic,
    read_latency_confidence,
)
from infercost.domain.confidence import order_statistic_ranks
from infercost.local import cloudwatch as local_cloudwatch
from infercost.steps.common import LoadSummary

ENDPOINT = "infercost-run1-01-c7g-large"
DIMENSIONS = [
    {"Name": "EndpointName", "Value": ENDPOINT},
    {"Name": "VariantName", "Value": "AllTraffic"},
]
RUN_START = 1_700_000_000.25


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


def put_latencies(cloudwatch: Any, at: float, values_us: list[float]) -> None:
    # PutMetricData takes at most 150 values per datum.
    for start in range(0, len(values_us), 150):
        cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {
                    "MetricName": "ModelLatency",
                    "Dimensions": DIMENSIONS,
                    "Timestamp": datetime.fromtimestamp(at, UTC),
                    "Unit": "Microseconds",
                    "Values": values_us[start : start + 150],
                }
            ],
        )


class Recording:
    """A CloudWatch client that keeps the ExtendedStatistics of every call it passes on."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.asked: list[list[str]] = []

    def get_metric_statistics(self, **kwargs: Any) -> Any:
        assert "Statistics" not in kwargs  # the API refuses both in one call
        self.asked.append(list(kwargs["ExtendedStatistics"]))
        return self.client.get_metric_statistics(**kwargs)


def test_the_extended_statistics_limit_is_the_apis() -> None:
    # The API reference: ExtendedStatistics, "Maximum number of 10 items"; botocore's model of the
    # API carries the same limit.
    model = botocore.session.get_session().get_service_model("cloudwatch")
    shape = model.operation_model("GetMetricStatistics").input_shape.members["ExtendedStatistics"]
    assert MAX_EXTENDED_STATISTICS == shape.metadata["max"] == 10


@given(st.integers(min_value=1, max_value=20_000), st.data())
def test_the_percentile_asked_for_lands_on_the_rank_or_outward(n: int, data: st.DataObject) -> None:
    rank = data.draw(st.integers(min_value=1, max_value=n))
    values = [float(v) for v in range(1, n + 1)]  # the value is its rank
    low = local_cloudwatch.percentile(values, rank_statistic(rank, n, "low"))
    high = local_cloudwatch.percentile(values, rank_statistic(rank, n, "high"))
    assert low is not None and high is not None
    if n <= 5000:  # a rank's band is at least 0.02 percentiles wide: two decimals hit it
        assert low == high == rank
    else:  # narrower bands: rounded outward, by no more than the band of 0.01
        assert rank - math.ceil(n / 10_000) <= low <= rank <= high <= rank + math.ceil(n / 10_000)


def test_the_statistics_are_named_as_cloudwatch_takes_them() -> None:
    assert rank_statistic(881, 1000, "low") == "p88.05"
    assert rank_statistic(919, 1000, "high") == "p91.85"
    assert rank_statistic(1, 1, "high") == "p50.00"  # the middle of the only rank's band
    assert rank_statistic(6000, 6000, "high") == "p100"
    assert rank_statistic(1, 100_000, "low") == "p0.00"
    with pytest.raises(ValueError):
        rank_statistic(0, 10, "low")


def test_the_intervals_are_cloudwatchs_values_at_the_bound_ranks(cloudwatch: Any) -> None:
    # 1,000 latencies of 1..1,000 ms: the order statistic of rank k is k ms.
    put_latencies(cloudwatch, RUN_START + 1, [k * 1000.0 for k in range(1, 1001)])
    recording = Recording(cloudwatch)
    found = read_latency_confidence(
        recording,
        ENDPOINT,
        metric_window(RUN_START, RUN_START + 30),
        samples=1000,
        avg_ms=500.5,
        std_ms=288.8,
    )
    assert found is not None and found.samples == 1000 and found.level == 0.95
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        assert found.intervals_ms[name] == tuple(float(rank) for rank in order_statistic_ranks(1000, q))  # type: ignore[arg-type]
    assert found.intervals_ms["p90"] == (881.0, 919.0)
    assert "CloudWatch" in found.method
    # The mean's interval: Student's t (999 degrees of freedom: 1.9623) with the spread given.
    half = 1.9623 * 288.8 / math.sqrt(1000)
    assert found.mean_ms == pytest.approx((500.5 - half, 500.5 + half), abs=0.01)
    # Eight bound percentiles, at most ten a call.
    assert sum(len(asked) for asked in recording.asked) == 8
    assert all(len(asked) <= MAX_EXTENDED_STATISTICS for asked in recording.asked)


def test_a_percentile_too_few_samples_cannot_bound_is_left_open(cloudwatch: Any) -> None:
    put_latencies(cloudwatch, RUN_START + 1, [k * 1000.0 for k in range(1, 51)])
    found = read_latency_confidence(
        cloudwatch, ENDPOINT, metric_window(RUN_START, RUN_START + 30), samples=50, avg_ms=25.5, std_ms=None
    )
    assert found is not None and found.mean_ms is None
    assert found.intervals_ms["p99"] == (48.0, None)


def test_a_run_across_two_datapoints_has_no_server_interval(cloudwatch: Any) -> None:
    put_latencies(cloudwatch, RUN_START + 1, [1000.0] * 30)
    put_latencies(cloudwatch, RUN_START + 125, [3000.0] * 10)  # past the 120 s period
    window = metric_window(RUN_START, RUN_START + 50)
    assert read_latency_confidence(cloudwatch, ENDPOINT, window, samples=40, avg_ms=1.5, std_ms=0.9) is None


def test_nothing_recorded_has_no_interval(cloudwatch: Any) -> None:
    window = metric_window(RUN_START, RUN_START + 30)
    assert read_latency_confidence(cloudwatch, ENDPOINT, window, samples=0, avg_ms=0.0, std_ms=None) is None
    assert read_latency_confidence(cloudwatch, ENDPOINT, window, samples=10, avg_ms=1.0, std_ms=None) is None


def test_the_load_test_state_passes_every_summary_field_on_to_collect_metrics() -> None:
    # The client's confidence (its spread, for the server's mean) must survive the ResultSelector.
    machine = json.loads(
        (Path(__file__).resolve().parents[2] / "statemachine" / "candidate.asl.json").read_text(
            encoding="utf-8"
        )
    )
    selector = machine["States"]["LoadTest"]["ResultSelector"]
    assert {key.removesuffix(".$") for key in selector} == set(LoadSummary.model_fields)
