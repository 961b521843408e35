"""The moto CloudWatch extension: percentiles from raw values, the real API's rules, idempotence."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from infercost.local import cloudwatch as local_cloudwatch

pytestmark = pytest.mark.integration

AT = datetime(2025, 1, 1, 12, 0, 10, tzinfo=UTC)
DIMENSIONS = [
    {"Name": "EndpointName", "Value": "ep"},
    {"Name": "VariantName", "Value": "AllTraffic"},
]


@pytest.fixture
def cloudwatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    local_cloudwatch.install()
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def put(cloudwatch: Any, **datum: Any) -> None:
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[{"MetricName": "ModelLatency", "Dimensions": DIMENSIONS, "Timestamp": AT, **datum}],
    )


def extended(cloudwatch: Any, stats: list[str]) -> list[dict[str, Any]]:
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMENSIONS,
        StartTime=AT - timedelta(seconds=10),
        EndTime=AT + timedelta(minutes=5),
        Period=60,
        ExtendedStatistics=stats,
    )
    points: list[dict[str, Any]] = response["Datapoints"]
    return points


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def test_install_is_idempotent() -> None:
    local_cloudwatch.install()
    from moto.cloudwatch.responses import CloudWatchResponse

    first = CloudWatchResponse.get_metric_statistics
    local_cloudwatch.install()
    assert CloudWatchResponse.get_metric_statistics is first
    assert local_cloudwatch.installed()


def test_values_with_counts_weigh_percentiles(cloudwatch: Any) -> None:
    # 90 requests at 1 ms and 10 at 50 ms, sent the way the model server batches them.
    put(cloudwatch, Values=[1000.0, 50000.0], Counts=[90.0, 10.0], Unit="Microseconds")
    [point] = extended(cloudwatch, ["p50", "p90", "p91", "p99.9", "p100"])
    assert point["ExtendedStatistics"] == {
        "p50": 1000.0,
        "p90": 1000.0,
        "p91": 50000.0,
        "p99.9": 50000.0,
        "p100": 50000.0,
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.integers(1, 10**6), min_size=1, max_size=60),
    st.sampled_from(["p0", "p1", "p50", "p90", "p95", "p99", "p100"]),
)
def test_percentiles_use_the_nearest_rank_of_the_raw_values(
    cloudwatch: Any, values: list[int], stat: str
) -> None:
    from moto.cloudwatch.models import cloudwatch_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    cloudwatch_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].metric_data.clear()
    put(cloudwatch, Values=[float(v) for v in values])
    [point] = extended(cloudwatch, [stat])
    assert point["ExtendedStatistics"][stat] == nearest_rank([float(v) for v in values], float(stat[1:]))


def test_plain_statistics_still_work_and_statistic_sets_are_left_out_of_percentiles(
    cloudwatch: Any,
) -> None:
    put(cloudwatch, Value=10.0)
    put(cloudwatch, StatisticValues={"SampleCount": 4, "Sum": 400, "Minimum": 100, "Maximum": 100})
    response = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName="ModelLatency",
        Dimensions=DIMENSIONS,
        StartTime=AT - timedelta(seconds=10),
        EndTime=AT + timedelta(minutes=5),
        Period=60,
        Statistics=["SampleCount", "Maximum"],
    )
    [point] = response["Datapoints"]
    assert (point["SampleCount"], point["Maximum"]) == (5.0, 100.0)
    assert "ExtendedStatistics" not in point
    [point] = extended(cloudwatch, ["p100"])
    assert point["ExtendedStatistics"] == {"p100": 10.0}


def test_statistics_and_extended_statistics_together_are_refused_like_the_real_api(
    cloudwatch: Any,
) -> None:
    put(cloudwatch, Value=1.0)
    with pytest.raises(ClientError, match="but not both"):
        cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="ModelLatency",
            Dimensions=DIMENSIONS,
            StartTime=AT - timedelta(seconds=10),
            EndTime=AT + timedelta(minutes=5),
            Period=60,
            Statistics=["Average"],
            ExtendedStatistics=["p90"],
        )
    with pytest.raises(ClientError, match="p9x"):
        extended(cloudwatch, ["p9x"])


def test_get_metric_data_answers_percentile_stats(cloudwatch: Any) -> None:
    put(cloudwatch, Values=[float(v) for v in range(1, 101)])
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": f"q{stat}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SageMaker",
                        "MetricName": "ModelLatency",
                        "Dimensions": DIMENSIONS,
                    },
                    "Period": 60,
                    "Stat": stat,
                },
            }
            for stat in ("p90", "p50", "Average")
        ],
        StartTime=AT - timedelta(seconds=10),
        EndTime=AT + timedelta(minutes=5),
    )
    values = {result["Id"]: result["Values"] for result in response["MetricDataResults"]}
    assert values == {"qp90": [90.0], "qp50": [50.0], "qAverage": [50.5]}


def test_percentile_helper_refuses_other_names() -> None:
    assert local_cloudwatch.percentile([], "p50") is None
    with pytest.raises(ValueError, match="not a percentile"):
        local_cloudwatch.percentile([1.0], "Average")
