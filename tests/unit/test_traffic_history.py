"""Traffic from an endpoint's CloudWatch history: the window, chunking under the API's limits, folding.

CloudWatch's documented rules (GetMetricStatistics, API reference) that these tests hold the reads
to, and the local stack enforces (infercost.local.cloudwatch): at most 1,440 datapoints per call;
a period that is a multiple of 60 s, of 300 s for a StartTime more than 15 days ago and of 3600 s
for one more than 63 days ago; hourly datapoints kept for 455 days.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws

from infercost.data.traffic import (
    MAX_DATAPOINTS_PER_CALL,
    PERIOD_S,
    HistoryWindow,
    TrafficHistoryError,
    chunks,
    fold_curve,
    history_window,
    read_traffic,
)
from infercost.domain.errors import InputError
from infercost.domain.traffic import MAX_HISTORY_DAYS, TrafficProfile
from infercost.local import cloudwatch as local_cloudwatch

ENDPOINT = "search-ranker"
# A Wednesday, mid-hour: the window ends at 12:00, the start of the current hour.
NOW = datetime(2026, 11, 25, 12, 34, 56, tzinfo=UTC)
MONDAY = datetime(2026, 11, 16, tzinfo=UTC)


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    local_cloudwatch.install()
    with mock_aws():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def put_hours(cloudwatch: Any, hours: dict[datetime, float], *, variant: str = "AllTraffic") -> None:
    """Invocations per hour, as SageMaker reports them (one datum per hour, mid-hour)."""
    data = [
        {
            "MetricName": "Invocations",
            "Dimensions": [
                {"Name": "EndpointName", "Value": ENDPOINT},
                {"Name": "VariantName", "Value": variant},
            ],
            "Timestamp": hour + timedelta(minutes=30),
            "Value": value,
        }
        for hour, value in sorted(hours.items())
    ]
    # PutMetricData takes at most 1,000 datums per call.
    for start in range(0, len(data), 1000):
        cloudwatch.put_metric_data(Namespace="AWS/SageMaker", MetricData=data[start : start + 1000])


def recorded_calls(cloudwatch: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    cloudwatch.meta.events.register(
        "provide-client-params.monitoring.GetMetricStatistics",
        lambda params, **_: calls.append(dict(params)),
    )
    return calls


# --- the window --------------------------------------------------------------------------------


def test_the_window_is_whole_hours_ending_at_the_current_hour() -> None:
    window = history_window(14, now=NOW)
    assert window.end == datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert window.start == window.end - timedelta(days=14)
    assert window.hours == 14 * 24 and window.days == 14


@pytest.mark.parametrize("days", [0, -1, MAX_HISTORY_DAYS + 1, True, 1.5])
def test_days_outside_cloudwatchs_hourly_retention_are_refused(days: Any) -> None:
    with pytest.raises(InputError) as caught:
        history_window(days, now=NOW)
    assert caught.value.field == "--days"
    assert "455" in caught.value.one_line()


@given(days=st.integers(min_value=1, max_value=MAX_HISTORY_DAYS))
def test_chunks_cover_the_window_within_1440_datapoints_each(days: int) -> None:
    window = history_window(days, now=NOW)
    pieces = chunks(window)
    assert pieces[0].start == window.start and pieces[-1].end == window.end
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))
    assert all(0 < piece.hours <= MAX_DATAPOINTS_PER_CALL for piece in pieces)
    assert len(pieces) == -(-days * 24 // MAX_DATAPOINTS_PER_CALL)


def test_455_days_take_eight_calls() -> None:
    assert len(chunks(history_window(MAX_HISTORY_DAYS, now=NOW))) == 8


# --- folding -----------------------------------------------------------------------------------


def test_two_weeks_fold_into_a_week_curve_monday_first() -> None:
    window = HistoryWindow(start=MONDAY, end=MONDAY + timedelta(days=14))
    # Monday 00:00 has 7,200 requests in each week: 2 req/s; Sunday 23:00 36,000 once: 5 req/s.
    hourly = {
        MONDAY: 7200.0,
        MONDAY + timedelta(days=7): 7200.0,
        MONDAY + timedelta(days=13, hours=23): 36000.0,
    }
    curve = fold_curve(hourly, window)
    assert len(curve) == 168
    assert curve[0] == 2.0
    assert curve[167] == 5.0
    assert sum(curve) == 7.0


def test_a_week_starting_midweek_still_lands_on_the_right_hours() -> None:
    wednesday = MONDAY + timedelta(days=2)
    window = HistoryWindow(start=wednesday, end=wednesday + timedelta(days=7))
    curve = fold_curve({MONDAY + timedelta(days=7, hours=9): 3600.0}, window)
    assert curve.index(1.0) == 9  # Monday 09:00, though the window began on a Wednesday


def test_fewer_than_seven_days_fold_into_a_day_curve() -> None:
    window = HistoryWindow(start=MONDAY, end=MONDAY + timedelta(days=3))
    hourly = {MONDAY + timedelta(days=day, hours=14): 3600.0 * (day + 1) for day in range(3)}
    curve = fold_curve(hourly, window)
    assert len(curve) == 24
    assert curve[14] == 2.0  # (1 + 2 + 3) req/s over three days
    assert sum(curve) == 2.0


# --- reading CloudWatch ------------------------------------------------------------------------


def test_read_traffic_gives_a_profile_with_its_source(cloudwatch: Any) -> None:
    start = NOW.replace(minute=0, second=0) - timedelta(days=14)
    put_hours(cloudwatch, {start + timedelta(hours=h): 36000.0 for h in range(14 * 24)})

    profile = read_traffic(cloudwatch, ENDPOINT, days=14, request_kb=2, now=NOW)

    assert isinstance(profile, TrafficProfile)
    assert profile.hourly_rps == [10.0] * 168
    assert profile.peak_rps == 10.0
    assert profile.requests_per_month == 10 * 3600 * 730
    assert profile.request_kb == 2
    assert profile.source == (
        "CloudWatch Invocations of endpoint search-ranker (AllTraffic), 14 days "
        "2026-11-11T12:00Z to 2026-11-25T12:00Z"
    )


def test_a_variant_reads_only_its_own_invocations(cloudwatch: Any) -> None:
    hour = NOW.replace(minute=0, second=0) - timedelta(hours=3)
    put_hours(cloudwatch, {hour: 3600.0})
    put_hours(cloudwatch, {hour: 7200.0}, variant="Canary")

    profile = read_traffic(cloudwatch, ENDPOINT, variant="Canary", days=1, now=NOW)

    assert profile.hourly_rps is not None and max(profile.hourly_rps) == 2.0


def test_455_days_are_read_within_the_api_limits(cloudwatch: Any) -> None:
    # The local CloudWatch refuses what AWS refuses (1,440 datapoints, period by age).
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0)
    put_hours(cloudwatch, {end - timedelta(days=day, hours=1): 3600.0 for day in range(1, 455)})
    calls = recorded_calls(cloudwatch)

    profile = read_traffic(cloudwatch, ENDPOINT, days=MAX_HISTORY_DAYS, now=now)

    assert len(calls) == 8
    for call in calls:
        points = (call["EndTime"] - call["StartTime"]) / timedelta(seconds=call["Period"])
        assert points <= MAX_DATAPOINTS_PER_CALL
        assert call["Period"] == PERIOD_S and call["Period"] % 3600 == 0
        assert call["Statistics"] == ["Sum"]
        assert call["StartTime"].minute == 0 and call["StartTime"].second == 0
    assert calls[0]["StartTime"] == end - timedelta(days=MAX_HISTORY_DAYS)
    assert calls[-1]["EndTime"] == end
    assert profile.hourly_rps is not None and len(profile.hourly_rps) == 168


def test_an_endpoint_younger_than_the_window_is_averaged_over_its_own_days(cloudwatch: Any) -> None:
    end = NOW.replace(minute=0, second=0)
    put_hours(cloudwatch, {end - timedelta(hours=h): 3600.0 for h in range(1, 49)})

    profile = read_traffic(cloudwatch, ENDPOINT, days=14, now=NOW)

    # Two days of history: a day curve at 1 req/s, not a week curve diluted by 12 idle days.
    assert profile.hourly_rps == [1.0] * 24
    assert profile.source is not None and "fewer than the 14 days asked" in profile.source


def test_no_invocations_names_the_endpoint_field_and_the_fix(cloudwatch: Any) -> None:
    with pytest.raises(InputError) as caught:
        read_traffic(cloudwatch, "no-such-endpoint", days=7, now=NOW, field="traffic.endpoint")
    line = caught.value.one_line()
    assert line.startswith("traffic.endpoint: CloudWatch has no Invocations of endpoint 'no-such-endpoint'")
    assert "region" in line and "requests_per_month" in line
    assert "\n" not in line


def test_a_refused_read_is_one_line_naming_the_call() -> None:
    client = boto3.client("cloudwatch", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_metric_statistics", service_error_code="InvalidParameterValue", service_message="bad"
        )
        with pytest.raises(TrafficHistoryError) as caught:
            read_traffic(client, ENDPOINT, days=1, now=NOW)
    assert caught.value.one_line() == "GetMetricStatistics failed: InvalidParameterValue: bad"


# --- the local stack's CloudWatch refuses what AWS refuses -------------------------------------


@pytest.mark.parametrize(
    ("age", "span", "period", "refused"),
    [
        (timedelta(days=1), timedelta(hours=1440), 3600, None),
        (timedelta(days=1), timedelta(hours=1441), 3600, "StartTime"),
        (timedelta(days=1), timedelta(days=1), 90, "Period"),
        (timedelta(days=1), timedelta(days=1), 30, "Period"),
        (timedelta(days=20), timedelta(days=1), 60, "Period"),
        (timedelta(days=20), timedelta(days=1), 300, None),
        (timedelta(days=70), timedelta(days=1), 300, "Period"),
        (timedelta(days=70), timedelta(days=1), 3600, None),
    ],
)
def test_the_local_cloudwatch_refuses_what_aws_refuses(
    age: timedelta, span: timedelta, period: int, refused: str | None
) -> None:
    start = NOW - age
    problem = local_cloudwatch.request_problem(start, start + span, period, NOW)
    assert (problem[0] if problem else None) == refused


def test_the_local_cloudwatch_answers_1441_datapoints_with_aws_error(cloudwatch: Any) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with pytest.raises(cloudwatch.exceptions.InvalidParameterCombinationException) as caught:
        cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName="Invocations",
            StartTime=end - timedelta(hours=1441),
            EndTime=end,
            Period=3600,
            Statistics=["Sum"],
        )
    assert "exceeds the limit of 1,440" in str(caught.value)


# --- a profile with a curve survives being stored ----------------------------------------------


@given(
    curve=st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=24, max_size=24).filter(
        any
    ),
    volume=st.none() | st.integers(min_value=1, max_value=10**12),
)
def test_a_curve_profile_round_trips_through_its_json(curve: list[float], volume: int | None) -> None:
    data: dict[str, Any] = {"hourly_rps": curve}
    if volume is not None:
        data["requests_per_month"] = volume
    profile = TrafficProfile.model_validate(data)
    assert TrafficProfile.model_validate(profile.model_dump(mode="json")) == profile


def test_a_peak_that_contradicts_the_curve_is_refused() -> None:
    with pytest.raises(ValueError, match="give peak_rps or hourly_rps, not both"):
        TrafficProfile.model_validate({"hourly_rps": [1.0] * 24, "peak_rps": 2.0})
