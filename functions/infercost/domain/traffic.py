"""The production traffic a recommendation is projected onto, and what the recommendation optimises.

A traffic profile is a volume (`requests_per_month`) and a peak (`peak_rps`), or an hourly curve
(24 values for a day, 168 for a week, requests/s) from which both follow; docs/method.md, §7.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from infercost.domain.autoscaling import AutoscalingSettings

HOURS_PER_MONTH = 730
SECONDS_PER_HOUR = 3600
CURVE_LENGTHS = (24, 168)
# CloudWatch keeps hourly datapoints for 455 days (docs/deploy.md); a few weeks is what a
# weekly curve needs.
MAX_HISTORY_DAYS = 455

# monthly: the cheapest way to serve the traffic profile for a month (autoscaling simulated);
# per-inference: the published method's cost per 100k inferences with one request in flight;
# throughput: cost per 100k at the highest load that meets the SLO (needs a concurrency sweep).
# per-token: cost per million output tokens at the token goodput (streaming LLM candidates, §9).
Objective = Literal["monthly", "per-inference", "throughput", "per-token"]
OBJECTIVES: tuple[Objective, ...] = ("monthly", "per-inference", "throughput", "per-token")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class TrafficProfile(_Strict):
    """The production traffic: a monthly volume and a peak, or an hourly curve they follow from.

    With `hourly_rps` alone, `requests_per_month` is the curve's mean × 3600 × 730 and `peak_rps`
    its maximum. With `hourly_rps` and `requests_per_month`, the curve gives the shape and is
    scaled to that volume (`peak_rps` then follows from the scaled curve and may not be given).
    """

    requests_per_month: int = Field(gt=0)
    peak_rps: float = Field(gt=0)
    hourly_rps: list[float] | None = Field(
        default=None,
        description="requests/s hour by hour: 24 values (a day) or 168 (a week, from Monday 00:00)",
    )
    request_kb: float = Field(
        default=0, ge=0, description="average request payload, for serverless data charges"
    )
    response_kb: float = Field(default=0, ge=0, description="average response payload")
    output_tokens_per_month: int | None = Field(
        default=None, gt=0, description="an LLM's monthly output tokens (docs/method.md §9)"
    )
    source: str | None = Field(
        default=None, description="where the curve came from, e.g. an endpoint's history"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_curve(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("hourly_rps") is None:
            return data
        curve = data["hourly_rps"]
        if not isinstance(curve, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in curve
        ):
            return data  # the field validator names the problem
        if len(curve) not in CURVE_LENGTHS or any(v < 0 for v in curve) or not any(curve):
            # Only the curve's own error: the volume and peak it would have given are not missing.
            return {"requests_per_month": 1, "peak_rps": 1.0, **data}
        mean = sum(curve) / len(curve)
        own_volume = max(1, round(mean * SECONDS_PER_HOUR * HOURS_PER_MONTH))
        volume = data.get("requests_per_month")
        if isinstance(volume, int | float) and not isinstance(volume, bool) and volume > 0:
            # A volume the curve already has (a stored profile read back) leaves it as it is.
            if round(volume) != own_volume:
                scale = volume / (mean * SECONDS_PER_HOUR * HOURS_PER_MONTH)
                curve = [v * scale for v in curve]
        else:
            volume = own_volume
        peak = data.get("peak_rps")
        # A stored profile carries the peak its curve gives; any other peak contradicts the curve.
        if peak is not None and not (
            isinstance(peak, int | float) and math.isclose(peak, max(curve), rel_tol=1e-9)
        ):
            raise ValueError(
                "@peak_rps: give peak_rps or hourly_rps, not both (the peak is the curve's highest hour)"
            )
        return {
            **data,
            "hourly_rps": curve,
            "requests_per_month": max(1, int(volume)),
            "peak_rps": max(curve),
        }

    @field_validator("hourly_rps")
    @classmethod
    def _curve(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return value
        if len(value) not in CURVE_LENGTHS:
            raise ValueError(
                f"has {len(value)} values; give 24 (one day, hour 0 first) or 168 (one week, Monday "
                "00:00 first), requests per second each, or read it with `infercost traffic import`"
            )
        negative = next((i for i, v in enumerate(value) if v < 0), None)
        if negative is not None:
            raise ValueError(
                f"hour {negative} is negative ({value[negative]:g}); requests per second are ≥ 0"
            )
        if not any(value):
            raise ValueError("is zero in every hour: there is no traffic to serve")
        return value

    @property
    def week_curve(self) -> list[float] | None:
        """Requests/s hour by hour over a week (168 values; a day's curve repeats); None without a curve."""
        if self.hourly_rps is None:
            return None
        return self.hourly_rps * (168 // len(self.hourly_rps))

    @property
    def mean_rps(self) -> float:
        return self.requests_per_month / (SECONDS_PER_HOUR * HOURS_PER_MONTH)

    @property
    def has_curve(self) -> bool:
        return self.hourly_rps is not None


class TrafficFromEndpoint(_Strict):
    """Traffic to be read from an existing endpoint's CloudWatch `Invocations` history at run start."""

    endpoint: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$",
        description="an InService endpoint",
    )
    variant: str = Field(default="AllTraffic", min_length=1, max_length=63)
    days: int = Field(default=14, ge=1, le=MAX_HISTORY_DAYS)
    request_kb: float = Field(default=0, ge=0)
    response_kb: float = Field(default=0, ge=0)


class ServingSpec(BaseModel):
    """The spec's `serving`: how the model will be served, and the assumptions behind the figures."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    mode: Literal["realtime", "async", "batch"] = Field(
        default="realtime",
        description="realtime endpoints (and serverless), asynchronous inference, or batch transform",
    )
    autoscaling: AutoscalingSettings = Field(default_factory=AutoscalingSettings)
    dataset_requests: int | None = Field(default=None, ge=1, description="batch: records in one job")
    jobs_per_month: float = Field(default=1, gt=0, le=10_000, description="batch: jobs a month")
    models_per_endpoint: int = Field(default=1, ge=1, le=10_000, description="models sharing one endpoint")
    model_memory_mb: int | None = Field(default=None, ge=1, description="memory one loaded model copy takes")
    serverless_idle_minutes: float = Field(
        default=10, gt=0, le=120, description="assumed: idle time after which a serverless container is cold"
    )

    @model_validator(mode="after")
    def _complete(self) -> Self:
        if self.mode == "batch" and self.dataset_requests is None:
            raise ValueError(
                "@dataset_requests: a batch workload needs the records in one job, e.g. "
                '"serving": {"mode": "batch", "dataset_requests": 2000000}'
            )
        if self.models_per_endpoint > 1 and self.model_memory_mb is None:
            raise ValueError(
                "@model_memory_mb: several models per endpoint need the memory one loaded model takes "
                '(MB), e.g. "model_memory_mb": 900'
            )
        return self
