"""SageMaker target tracking on InvocationsPerInstance, simulated minute by minute over a week.

docs/method.md §7.2. The hourly traffic curve is interpolated to minutes; Application Auto Scaling's
target-tracking alarms are modelled as documented: scale out after 3 consecutive minutes above
the target, scale in after 15 consecutive minutes below 90 % of it, one scale-in per cooldown;
a new instance serves after `scale_out_delay_minutes` (alarm to InService) and is billed from the
moment it is requested. Capacity per instance is what the benchmark measured within the SLO; the
target keeps `headroom` of it in use, so a minute whose load exceeds the in-service instances'
full capacity is a minute at risk of missing the SLO.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

MINUTES_PER_WEEK = 7 * 24 * 60
WEEKS_PER_MONTH = 730 / 168
SCALE_OUT_DATAPOINTS = 3
SCALE_IN_DATAPOINTS = 15
SCALE_IN_THRESHOLD = 0.9
# SageMaker endpoint variants' default cooldowns (Application Auto Scaling), seconds.
DEFAULT_SCALE_IN_COOLDOWN_S = 300
DEFAULT_SCALE_OUT_COOLDOWN_S = 300
# Application Auto Scaling refuses a MaxCapacity above the variant's quota; 100 keeps the search short.
MAX_INSTANCES_LIMIT = 100


class AutoscalingSettings(BaseModel):
    """How the endpoint would scale; the defaults follow AWS's guidance (docs/method.md §7.2)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    headroom: float = Field(
        default=0.7, gt=0, le=1, description="share of an instance's capacity the target keeps in use"
    )
    min_instances: int | None = Field(
        default=None, ge=1, le=MAX_INSTANCES_LIMIT, description="default: the fewest with no minute at risk"
    )
    max_instances: int | None = Field(default=None, ge=1, le=MAX_INSTANCES_LIMIT)
    scale_out_delay_minutes: float = Field(
        default=8, ge=0, le=60, description="alarm (3 min) to a new instance InService"
    )
    scale_in_cooldown_s: int = Field(default=DEFAULT_SCALE_IN_COOLDOWN_S, ge=0, le=3600)
    scale_out_cooldown_s: int = Field(default=DEFAULT_SCALE_OUT_COOLDOWN_S, ge=0, le=3600)
    max_hours_at_risk: float = Field(
        default=0, ge=0, description="hours a month the load may exceed full capacity before min rises"
    )


class ScalingPolicy(BaseModel):
    """What to apply: the scalable target's bounds and the target-tracking configuration."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    min_capacity: int
    max_capacity: int
    # SageMakerVariantInvocationsPerInstance is per minute: capacity/s × headroom × 60.
    target_invocations_per_instance_per_minute: float
    scale_in_cooldown_s: int
    scale_out_cooldown_s: int


class ScalingOutcome(BaseModel):
    """A simulated month under one policy."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    policy: ScalingPolicy
    instance_hours: float = Field(description="per month, per instance of the candidate's own count")
    hours_at_risk: float = Field(description="per month: load above the in-service instances' full capacity")
    peak_instances: int
    mean_instances: float
    # What the load needs at full capacity (the fluid lower bound), instance-hours per month.
    needed_instance_hours: float
    # Hours a month spent at each instance count (billed instances), for Savings Plan sizing.
    hours_by_instances: dict[int, float]


def minute_curve(hourly_rps: list[float]) -> list[float]:
    """A week of minutes from 168 hourly means, linear between hour midpoints (wrapping around)."""
    hours = len(hourly_rps)
    out: list[float] = []
    for minute in range(MINUTES_PER_WEEK):
        position = minute / 60 - 0.5
        low = math.floor(position)
        frac = position - low
        a = hourly_rps[low % hours]
        b = hourly_rps[(low + 1) % hours]
        out.append(a + (b - a) * frac)
    return out


def simulate(
    minutes: list[float],
    capacity_rps: float,
    settings: AutoscalingSettings,
    *,
    min_instances: int,
    max_instances: int,
) -> ScalingOutcome:
    """Run target tracking over the week's minute loads; figures scaled to a 730-hour month."""
    target_rps = capacity_rps * settings.headroom
    delay = settings.scale_out_delay_minutes
    in_service = min_instances
    pending: list[tuple[float, int]] = []  # (ready at minute, count)
    above = below = 0
    last_scale_in = -math.inf
    last_scale_out = -math.inf
    billed_minutes = 0.0
    risk_minutes = 0
    peak = in_service
    minutes_at: dict[int, int] = {}
    for minute, load in enumerate(minutes):
        ready = [p for p in pending if p[0] <= minute]
        if ready:
            in_service += sum(count for _, count in ready)
            pending = [p for p in pending if p[0] > minute]
        requested = in_service + sum(count for _, count in pending)
        billed_minutes += requested
        minutes_at[requested] = minutes_at.get(requested, 0) + 1
        peak = max(peak, requested)
        if load > in_service * capacity_rps + 1e-9:
            risk_minutes += 1
        per_instance = load / in_service if in_service else math.inf
        above = above + 1 if per_instance > target_rps else 0
        below = below + 1 if per_instance < SCALE_IN_THRESHOLD * target_rps else 0
        desired = min(max_instances, max(min_instances, math.ceil(load / target_rps - 1e-9)))
        if (
            above >= SCALE_OUT_DATAPOINTS
            and desired > requested
            and (minute - last_scale_out) * 60 >= settings.scale_out_cooldown_s
        ):
            pending.append((minute + delay, desired - requested))
            last_scale_out = minute
            above = 0
        elif (
            below >= SCALE_IN_DATAPOINTS
            and not pending
            and desired < in_service
            and (minute - last_scale_in) * 60 >= settings.scale_in_cooldown_s
        ):
            in_service = desired
            last_scale_in = minute
            below = 0
    scale = WEEKS_PER_MONTH / 60
    needed = sum(load / capacity_rps for load in minutes) * scale
    return ScalingOutcome(
        policy=ScalingPolicy(
            min_capacity=min_instances,
            max_capacity=max_instances,
            target_invocations_per_instance_per_minute=round(target_rps * 60, 2),
            scale_in_cooldown_s=settings.scale_in_cooldown_s,
            scale_out_cooldown_s=settings.scale_out_cooldown_s,
        ),
        instance_hours=billed_minutes * scale,
        hours_at_risk=risk_minutes * scale,
        peak_instances=peak,
        mean_instances=billed_minutes / len(minutes),
        needed_instance_hours=needed,
        hours_by_instances={count: n * scale for count, n in sorted(minutes_at.items())},
    )


def plan_autoscaling(
    hourly_rps: list[float], capacity_rps: float, settings: AutoscalingSettings
) -> ScalingOutcome | None:
    """The cheapest policy whose simulated month stays within `max_hours_at_risk`.

    Max capacity: enough for the curve's peak at the target (or the setting). Min capacity: the
    setting, else the smallest minimum that keeps the hours at risk within the allowance (more
    instances held never add risk, so a binary search finds it). None when capacity is zero.
    """
    if capacity_rps <= 0:
        return None
    minutes = minute_curve(hourly_rps)
    peak_load = max(minutes)
    at_peak = max(1, math.ceil(peak_load / (capacity_rps * settings.headroom) - 1e-9))
    max_instances = settings.max_instances or min(MAX_INSTANCES_LIMIT, at_peak)

    def run(low: int) -> ScalingOutcome:
        return simulate(
            minutes,
            capacity_rps,
            settings,
            min_instances=low,
            max_instances=max(low, max_instances),
        )

    if settings.min_instances is not None:
        return run(settings.min_instances)
    low, high = 1, max_instances
    best = run(high)
    while low < high:
        middle = (low + high) // 2
        outcome = run(middle)
        if outcome.hours_at_risk <= settings.max_hours_at_risk:
            best, high = outcome, middle
        else:
            low = middle + 1
    return best if best.policy.min_capacity == low else run(low)
