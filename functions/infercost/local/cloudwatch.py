"""Percentile statistics for moto's CloudWatch (moto 5.2.5 ignores them).

moto stores every value sent with `Values`/`Counts` as its own raw datum (a value with count
3 becomes three data), which is what percentiles need. `install()` patches two moto methods:
`CloudWatchResponse.get_metric_statistics` answers `ExtendedStatistics` (and, like the real
API, refuses `Statistics` and `ExtendedStatistics` together), and
`Statistics.get_statistics_for_type` answers `p90`-style stats for GetMetricData. Percentiles
use the nearest-rank rule over the raw values; aggregated `StatisticValues` data carry no raw
values and are left out of percentiles, as CloudWatch does for such sets.

GetMetricStatistics also refuses here what CloudWatch refuses and moto answers (API reference):
more than 1,440 datapoints in one call and a period that is not a multiple of 60 s. CloudWatch also
wants a period that is a multiple of 300 (3600) s for a StartTime more than 15 (63) days ago;
`request_problem` knows that rule, but the patch leaves it out, because tests replay runs at fixed
past times as if they were recent.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

_PERCENTILE = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")
_MARK = "_infercost_percentiles"
MAX_DATAPOINTS = 1440
# A StartTime older than this needs a period that is a multiple of that (data retention).
_PERIOD_FOR_AGE = ((timedelta(days=63), 3600), (timedelta(days=15), 300))


def request_problem(
    start: datetime, end: datetime, period_s: int, now: datetime | None = None
) -> tuple[str, str] | None:
    """Why CloudWatch refuses a GetMetricStatistics window: (parameter at fault, message), or None.

    The period-by-age rules need `now`; without it they are not checked.
    """
    if period_s < 60 or period_s % 60:
        return "Period", f"The parameter Period must be a multiple of 60, got {period_s}."
    age = now - start if now is not None else None
    for older_than, multiple in _PERIOD_FOR_AGE:
        if age is not None and age > older_than and period_s % multiple:
            return "Period", (
                f"The parameter Period must be a multiple of {multiple} for a StartTime more than "
                f"{older_than.days} days ago."
            )
    requested = math.ceil((end - start).total_seconds() / period_s)
    if requested > MAX_DATAPOINTS:
        return "StartTime", (
            f"You have requested up to {requested:,} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS:,}. You may reduce the datapoints requested by increasing Period, "
            "or decreasing the time range."
        )
    return None


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def percentile(values: list[float], stat: str) -> float | None:
    """Nearest-rank percentile of `values` for a stat named like `p90` or `p99.9`."""
    match = _PERCENTILE.match(stat)
    if match is None:
        raise ValueError(f"not a percentile statistic: {stat!r}")
    if not values:
        return None
    rank = float(stat[1:]) / 100
    ordered = sorted(values)
    index = max(0, math.ceil(rank * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def installed() -> bool:
    from moto.cloudwatch.responses import CloudWatchResponse

    return bool(getattr(CloudWatchResponse.get_metric_statistics, _MARK, False))


def install() -> None:
    """Patch moto's CloudWatch in this process; calling it again changes nothing."""
    if installed():
        return
    from moto.cloudwatch.exceptions import InvalidParameterCombination, InvalidParameterValue
    from moto.cloudwatch.models import MetricDatum, Statistics
    from moto.cloudwatch.responses import CloudWatchResponse
    from moto.core.responses import ActionResult

    def get_metric_statistics(self: Any) -> Any:
        statistics = self._get_param("Statistics", [])
        extended = self._get_param("ExtendedStatistics", [])
        if not statistics and not extended:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
        if statistics and extended:
            raise InvalidParameterCombination(
                "Must specify either Statistics or ExtendedStatistics, but not both"
            )
        for stat in extended:
            if not _PERCENTILE.match(stat):
                raise InvalidParameterValue(
                    f"The value {stat} for parameter ExtendedStatistics is not supported."
                )
        # Not the period-by-age rules: tests replay runs at fixed past times as if they were recent.
        problem = request_problem(
            _utc(self._get_param("StartTime")),
            _utc(self._get_param("EndTime")),
            self._get_int_param("Period"),
        )
        if problem is not None:
            parameter, message = problem
            raise (InvalidParameterValue if parameter == "Period" else InvalidParameterCombination)(message)
        datapoints = self.cloudwatch_backend.get_metric_statistics(
            self._get_param("Namespace"),
            self._get_param("MetricName"),
            self._get_param("StartTime"),
            self._get_param("EndTime"),
            self._get_int_param("Period"),
            statistics,
            unit=self._get_param("Unit"),
            dimensions=self._get_param("Dimensions", []),
        )
        for point in datapoints:
            raw = [d.value for d in point.metric_data if isinstance(d, MetricDatum)]
            if extended and raw:
                point.extended_statistics = {stat: percentile(raw, stat) for stat in extended}
        result = {"Label": self._get_param("MetricName"), "Datapoints": datapoints}
        return ActionResult(result)

    original_stat = Statistics.get_statistics_for_type

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        if _PERCENTILE.match(stat):
            return percentile(self.metric_single_values_list, stat)
        return original_stat(self, stat)

    setattr(get_metric_statistics, _MARK, True)
    CloudWatchResponse.get_metric_statistics = get_metric_statistics  # type: ignore[method-assign]
    Statistics.get_statistics_for_type = get_statistics_for_type  # type: ignore[method-assign]
