"""Production traffic read from an endpoint's CloudWatch history and folded into an hourly curve.

`AWS/SageMaker` `Invocations` (Sum; dimensions EndpointName and VariantName) hour by hour over
the last N days, through the CloudWatch client passed in. GetMetricStatistics returns at most
1,440 datapoints per call, so the hours are asked for in chunks of at most 1,440 (60 days); a
one-hour period is a multiple of 60, 300 and 3600 s, so it is valid however old the data is, and
hourly datapoints are kept for 455 days (docs/architecture.md, "Traffic from an endpoint").
Throttling is retried by the client's own configuration (infercost.data.clients.RETRIES).

The hours are folded into the mean requests/s of each hour of the week (168 values, Monday
00:00 UTC first) when the history covers at least 7 days, else of each hour of the day (24).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict

from infercost.domain.errors import InfercostError, InputError
from infercost.domain.traffic import MAX_HISTORY_DAYS, SECONDS_PER_HOUR, TrafficProfile

NAMESPACE = "AWS/SageMaker"
METRIC = "Invocations"
PERIOD_S = 3600
# GetMetricStatistics refuses a request for more datapoints than this (API reference).
MAX_DATAPOINTS_PER_CALL = 1440
HOURS_PER_DAY = 24
DAYS_PER_WEEK = 7
DEFAULT_DAYS = 14


class TrafficHistoryError(InfercostError):
    """CloudWatch could not be read for an endpoint's traffic history (one line, with the reason)."""


class HistoryWindow(BaseModel):
    """Whole UTC hours from `start` (inclusive) to `end` (exclusive)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds()) // SECONDS_PER_HOUR

    @property
    def days(self) -> int:
        return math.ceil(self.hours / HOURS_PER_DAY)

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%dT%H:%MZ} to {self.end:%Y-%m-%dT%H:%MZ}"


def _hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def history_window(days: int, *, now: datetime | None = None, field: str = "--days") -> HistoryWindow:
    """The last `days` whole days of whole hours, ending at the start of the current hour."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
        raise InputError(
            f"must be a whole number of days from 1 to {MAX_HISTORY_DAYS}, got {days!r}",
            field=field,
            hint=f"CloudWatch keeps hourly datapoints for {MAX_HISTORY_DAYS} days",
        )
    end = _hour(now or datetime.now(UTC))
    return HistoryWindow(start=end - timedelta(days=days), end=end)


def chunks(
    window: HistoryWindow, *, period_s: int = PERIOD_S, max_datapoints: int = MAX_DATAPOINTS_PER_CALL
) -> list[HistoryWindow]:
    """`window` cut into adjacent pieces of at most `max_datapoints` periods each, oldest first."""
    step = timedelta(seconds=period_s * max_datapoints)
    pieces: list[HistoryWindow] = []
    start = window.start
    while start < window.end:
        end = min(start + step, window.end)
        pieces.append(HistoryWindow(start=start, end=end))
        start = end
    return pieces


def dimensions(endpoint: str, variant: str) -> list[dict[str, str]]:
    return [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]


def hourly_invocations(
    cloudwatch: Any, endpoint: str, variant: str, window: HistoryWindow
) -> dict[datetime, float]:
    """Invocations per UTC hour in `window` (hours without a datapoint are absent)."""
    from botocore.exceptions import BotoCoreError, ClientError

    totals: dict[datetime, float] = defaultdict(float)
    for piece in chunks(window):
        try:
            response = cloudwatch.get_metric_statistics(
                Namespace=NAMESPACE,
                MetricName=METRIC,
                Dimensions=dimensions(endpoint, variant),
                StartTime=piece.start,
                EndTime=piece.end,
                Period=PERIOD_S,
                Statistics=["Sum"],
            )
        except ClientError as error:
            details = error.response.get("Error", {})
            raise TrafficHistoryError(
                f"GetMetricStatistics failed: {details.get('Code', 'error')}: "
                f"{details.get('Message') or error}"
            ) from None
        except BotoCoreError as error:
            raise TrafficHistoryError(f"GetMetricStatistics failed: {error}") from None
        for point in response.get("Datapoints", []):
            hour = _hour(point["Timestamp"])
            if window.start <= hour < window.end:
                totals[hour] += float(point.get("Sum", 0.0))
    return dict(totals)


def covered_window(hourly: dict[datetime, float], window: HistoryWindow) -> HistoryWindow:
    """The whole days at the end of `window` that reach back to its first datapoint.

    An endpoint younger than the window has no history before it was created; counting those
    hours as idle would lower every mean.
    """
    first = min(hourly)
    days = math.ceil((window.end - first) / timedelta(days=1))
    return HistoryWindow(start=window.end - timedelta(days=days), end=window.end)


def fold_curve(hourly: dict[datetime, float], window: HistoryWindow) -> list[float]:
    """Mean requests/s per hour of the week (168, Monday 00:00 UTC first) over `window` when it
    spans 7 days or more, else per hour of the day (24). Hours without a datapoint count as idle."""
    weekly = window.days >= DAYS_PER_WEEK
    length = HOURS_PER_DAY * DAYS_PER_WEEK if weekly else HOURS_PER_DAY
    totals = [0.0] * length
    counts = [0] * length
    for offset in range(window.hours):
        hour = window.start + timedelta(hours=offset)
        slot = hour.weekday() * HOURS_PER_DAY + hour.hour if weekly else hour.hour
        totals[slot] += hourly.get(hour, 0.0)
        counts[slot] += 1
    return [
        round(total / (count * SECONDS_PER_HOUR), 6) if count else 0.0
        for total, count in zip(totals, counts, strict=True)
    ]


def read_traffic(
    cloudwatch: Any,
    endpoint: str,
    *,
    variant: str = "AllTraffic",
    days: int = DEFAULT_DAYS,
    request_kb: float = 0.0,
    response_kb: float = 0.0,
    now: datetime | None = None,
    field: str = "--endpoint",
    days_field: str = "--days",
) -> TrafficProfile:
    """The endpoint variant's traffic over the last `days` days as a profile with an hourly curve.

    No Invocations in the window is an InputError naming `field` (`days_field` for a bad
    `days`); a refused call is
    PermissionDenied (the client's guard) and any other failure a TrafficHistoryError.
    """
    window = history_window(days, now=now, field=days_field)
    hourly = hourly_invocations(cloudwatch, endpoint, variant, window)
    if not any(hourly.values()):
        region = getattr(getattr(cloudwatch, "meta", None), "region_name", None)
        raise InputError(
            f"CloudWatch has no {METRIC} of endpoint {endpoint!r}, variant {variant!r}"
            + (f" in {region}" if region else "")
            + f" from {window.describe()}",
            field=field,
            hint="check the endpoint and variant names and the region its metrics are in, "
            "or give the traffic as requests_per_month and peak_rps",
        )
    covered = covered_window({h: v for h, v in hourly.items() if v > 0}, window)
    curve = fold_curve(hourly, covered)
    shorter = f" (history since {covered.start:%Y-%m-%d}, fewer than the {days} days asked)"
    source = (
        f"CloudWatch {METRIC} of endpoint {endpoint} ({variant}), {covered.days} days "
        f"{covered.describe()}" + (shorter if covered.days < days else "")
    )
    return TrafficProfile.model_validate(
        {
            "hourly_rps": curve,
            "request_kb": request_kb,
            "response_kb": response_kb,
            "source": source,
        }
    )
