"""How to serve the traffic, and what it costs a month: every way SageMaker can serve a candidate.

docs/method.md §7. From one candidate's measurements (latency, max RPS at the SLO, first-request
latency) and a traffic profile: real-time instances under simulated autoscaling, serverless
(with cold starts from the curve's idle gaps, and provisioned concurrency when the SLO cannot
take them), asynchronous inference scaled to zero, batch transform, several models on one
endpoint; each with its Savings Plans.
"""

from __future__ import annotations

import math
from typing import Literal

from infercost.domain import costing
from infercost.domain.autoscaling import AutoscalingSettings, ScalingPolicy, plan_autoscaling
from infercost.domain.hardware import instance_memory_gib
from infercost.domain.models import QUANTILES, Slo
from infercost.domain.prices import SavingsPlanRate, ServerlessRates
from infercost.domain.results import CandidateResult, SavingsPlanOption, ServingOption
from infercost.domain.traffic import HOURS_PER_MONTH, SECONDS_PER_HOUR, ServingSpec, TrafficProfile

WEEK_TO_MONTH = HOURS_PER_MONTH / 168
# A model's copies may use this share of an instance's memory (the rest: OS, server, buffers).
USABLE_MEMORY_SHARE = 0.9


def instance_capacity(
    result: CandidateResult,
) -> tuple[float | None, Literal["max_rps_at_slo", "serial_latency"]]:
    """Requests/s one instance serves within the SLO: a streaming workload's goodput (requests that
    met every token SLO), else the sweep's max RPS at the SLO, else one request in flight."""
    if result.llm is not None and result.llm.goodput_rps:
        return result.llm.goodput_rps / result.candidate.instance_count, "max_rps_at_slo"
    if result.max_rps_at_slo is not None:
        return result.max_rps_at_slo / result.candidate.instance_count, "max_rps_at_slo"
    return costing.serial_capacity_rps(result.latency_ms.avg), "serial_latency"


def serving_options(
    result: CandidateResult,
    traffic: TrafficProfile,
    serving: ServingSpec,
    slo: Slo,
    *,
    price_per_hour_usd: float | None,
    serverless_rates: ServerlessRates | None,
    savings_plans: tuple[SavingsPlanRate, ...] = (),
) -> list[ServingOption]:
    """Every applicable way to serve `traffic` with this candidate, cheapest first."""
    options: list[ServingOption] = []
    candidate = result.candidate
    if candidate.serverless is not None:
        if serverless_rates is not None:
            options.extend(_serverless(result, traffic, serving, slo, serverless_rates))
    elif price_per_hour_usd is not None:
        capacity, basis = instance_capacity(result)
        if capacity is not None and capacity > 0:
            if serving.mode == "async":
                options.append(_async(traffic, serving, capacity, price_per_hour_usd))
            elif serving.mode == "batch":
                options.append(_batch(result, serving, capacity, price_per_hour_usd))
            elif serving.models_per_endpoint > 1:
                options.append(_multi_model(result, traffic, serving, capacity, price_per_hour_usd))
            else:
                options.append(_realtime(traffic, serving.autoscaling, capacity, price_per_hour_usd))
            options = [
                option.model_copy(
                    update={
                        "capacity_basis": basis,
                        "savings_plans": _plans(option, savings_plans, price_per_hour_usd),
                    }
                )
                for option in options
            ]
    return sorted(options, key=lambda o: (not o.meets_slo, o.monthly_cost_usd or math.inf))


def _realtime(
    traffic: TrafficProfile, settings: AutoscalingSettings, capacity: float, price: float, *, floor: int = 1
) -> ServingOption:
    curve = traffic.week_curve
    if curve is None:
        # No curve: provision for the peak all month (today's projection), and say how to do better.
        needed = costing.instances_needed(traffic.peak_rps, capacity) or 1
        needed = max(needed, floor)
        return ServingOption(
            mode="realtime",
            monthly_cost_usd=needed * price * HOURS_PER_MONTH,
            meets_slo=True,
            instance_hours=needed * HOURS_PER_MONTH,
            hours_at_risk=0.0,
            policy=ScalingPolicy(
                min_capacity=needed,
                max_capacity=needed,
                target_invocations_per_instance_per_minute=round(capacity * settings.headroom * 60, 2),
                scale_in_cooldown_s=settings.scale_in_cooldown_s,
                scale_out_cooldown_s=settings.scale_out_cooldown_s,
            ),
            capacity_rps_per_instance=capacity,
            hours_by_instances={needed: float(HOURS_PER_MONTH)},
            notes=[
                "no hourly curve: provisioned for the peak all month; give traffic.hourly_rps "
                "(or `infercost traffic import`) to simulate autoscaling"
            ],
        )
    if floor > 1:
        settings = settings.model_copy(update={"min_instances": max(floor, settings.min_instances or floor)})
    outcome = plan_autoscaling(curve, capacity, settings)
    assert outcome is not None  # capacity > 0
    notes = []
    if outcome.hours_at_risk > 0:
        notes.append(
            f"{outcome.hours_at_risk:.1f} h a month above full capacity while scaling out "
            f"(min {outcome.policy.min_capacity})"
        )
    return ServingOption(
        mode="realtime",
        monthly_cost_usd=outcome.instance_hours * price,
        meets_slo=outcome.hours_at_risk <= settings.max_hours_at_risk,
        instance_hours=outcome.instance_hours,
        hours_at_risk=outcome.hours_at_risk,
        policy=outcome.policy,
        capacity_rps_per_instance=capacity,
        hours_by_instances=outcome.hours_by_instances,
        notes=notes,
    )


def _cold_start_share(traffic: TrafficProfile, idle_s: float, latency_ms: float) -> float:
    """Share of requests that find no warm container: Poisson gaps longer than the idle time,
    plus one cold start per container added as the hour-to-hour concurrency rises."""
    curve = traffic.week_curve or [traffic.mean_rps] * 168
    requests = cold = 0.0
    previous = math.ceil(curve[-1] * latency_ms / 1000)
    for rate in curve:
        hour_requests = rate * SECONDS_PER_HOUR
        requests += hour_requests
        cold += hour_requests * math.exp(-rate * idle_s)
        containers = math.ceil(rate * latency_ms / 1000)
        cold += max(0, containers - previous)
        previous = containers
    return min(1.0, cold / requests) if requests else 0.0


def _serverless(
    result: CandidateResult, traffic: TrafficProfile, serving: ServingSpec, slo: Slo, rates: ServerlessRates
) -> list[ServingOption]:
    config = result.candidate.serverless
    assert config is not None
    latency = result.latency_ms.avg
    per_request = costing.serverless_cost_per_inference(
        rates, config.memory_mb, latency, request_kb=traffic.request_kb, response_kb=traffic.response_kb
    )
    on_demand_cost = traffic.requests_per_month * per_request
    share = _cold_start_share(traffic, serving.serverless_idle_minutes * 60, latency)
    notes = [
        f"cold starts assumed after {serving.serverless_idle_minutes:g} min idle (AWS publishes no figure)"
    ]
    cold_ms = result.first_request_ms
    tail_share = 1 - QUANTILES[slo.percentile]
    capacity = config.max_concurrency * 1000 / latency if latency > 0 else math.inf
    fits = traffic.peak_rps <= capacity
    if not fits:
        notes.append(
            f"peak {traffic.peak_rps:g} req/s exceeds {config.max_concurrency} concurrent invocations "
            f"({capacity:.1f} req/s): requests would be throttled"
        )
    if cold_ms is None:
        cold_ok = True
        notes.append("first-request (cold start) latency not measured: its effect on the SLO is unknown")
    else:
        cold_ok = cold_ms <= slo.max_latency_ms or share <= tail_share
        if not cold_ok:
            notes.append(
                f"{share:.1%} of requests start cold ({cold_ms:.0f} ms > {slo.max_latency_ms:g} ms), "
                f"more than the {tail_share:.0%} the {slo.percentile.upper()} SLO leaves"
            )
    on_demand = ServingOption(
        mode="serverless",
        monthly_cost_usd=on_demand_cost,
        meets_slo=fits and cold_ok,
        cold_start_share=share,
        estimate=True,
        notes=notes,
    )
    # Provisioned concurrency: enough warm containers for the peak (Little's law), priced as the
    # memory held busy at the compute rate all month, since the price data has no separate rate.
    concurrency = min(config.max_concurrency, max(1, math.ceil(traffic.peak_rps * latency / 1000)))
    held = concurrency * config.memory_mb / 1024 * SECONDS_PER_HOUR * HOURS_PER_MONTH
    provisioned = ServingOption(
        mode="serverless-provisioned",
        monthly_cost_usd=on_demand_cost + held * rates.compute_usd_per_gb_second,
        meets_slo=fits,
        provisioned_concurrency=concurrency,
        cold_start_share=0.0,
        estimate=True,
        notes=[
            "≈ provisioned concurrency priced as its memory at the on-demand compute rate, all month "
            "(an upper bound: AWS's provisioned rate is lower)"
        ],
    )
    return [on_demand, provisioned]


def _async(traffic: TrafficProfile, serving: ServingSpec, capacity: float, price: float) -> ServingOption:
    curve = traffic.week_curve or [traffic.mean_rps] * 168
    hours_by: dict[int, float] = {}
    previous = curve[-1]
    starts = 0
    for rate in curve:
        count = math.ceil(rate / capacity - 1e-9) if rate > 0 else 0
        hours_by[count] = hours_by.get(count, 0.0) + WEEK_TO_MONTH
        starts += rate > 0 and previous == 0
        previous = rate
    instance_hours = sum(count * hours for count, hours in hours_by.items())
    delay = serving.autoscaling.scale_out_delay_minutes * 60
    notes = ["scales to zero when the queue is empty; requests after an idle hour wait for an instance"]
    if traffic.week_curve is None:
        notes.append("no hourly curve: load taken as flat at the monthly mean")
    return ServingOption(
        mode="async",
        monthly_cost_usd=instance_hours * price,
        meets_slo=True,
        instance_hours=instance_hours,
        capacity_rps_per_instance=capacity,
        queue_delay_s=delay if starts else 0.0,
        hours_by_instances=hours_by,
        policy=ScalingPolicy(
            min_capacity=0,
            max_capacity=max(hours_by),
            target_invocations_per_instance_per_minute=round(capacity * 60, 2),
            scale_in_cooldown_s=serving.autoscaling.scale_in_cooldown_s,
            scale_out_cooldown_s=serving.autoscaling.scale_out_cooldown_s,
        ),
        notes=notes,
    )


def _batch(result: CandidateResult, serving: ServingSpec, capacity: float, price: float) -> ServingOption:
    assert serving.dataset_requests is not None
    count = result.candidate.instance_count
    job_hours = serving.dataset_requests / (capacity * count) / SECONDS_PER_HOUR
    instance_hours = job_hours * count * serving.jobs_per_month
    return ServingOption(
        mode="batch",
        monthly_cost_usd=instance_hours * price,
        meets_slo=True,
        instance_hours=instance_hours,
        capacity_rps_per_instance=capacity,
        job_hours=job_hours,
        hours_by_instances={count: job_hours * serving.jobs_per_month},
        notes=[
            f"{serving.jobs_per_month:g} job(s) of {serving.dataset_requests:,} records a month on "
            f"{count} instance(s); a job's start-up minutes are not counted"
        ],
    )


def _multi_model(
    result: CandidateResult, traffic: TrafficProfile, serving: ServingSpec, capacity: float, price: float
) -> ServingOption:
    assert serving.model_memory_mb is not None
    n = serving.models_per_endpoint
    memory = instance_memory_gib(result.candidate.instance_type)
    if memory is None:
        return ServingOption(
            mode="multi-model",
            monthly_cost_usd=None,
            meets_slo=False,
            notes=[
                f"memory of {result.candidate.instance_type} unknown: copies per instance cannot be sized"
            ],
        )
    copies = math.floor(memory * 1024 * USABLE_MEMORY_SHARE / serving.model_memory_mb)
    if copies < 1:
        return ServingOption(
            mode="multi-model",
            monthly_cost_usd=None,
            meets_slo=False,
            copies_per_instance=0,
            notes=[f"a {serving.model_memory_mb} MB model does not fit in {memory:g} GiB"],
        )
    combined = traffic.model_copy(
        update={
            "requests_per_month": traffic.requests_per_month * n,
            "peak_rps": traffic.peak_rps * n,
            "hourly_rps": [v * n for v in traffic.hourly_rps] if traffic.hourly_rps else None,
        }
    )
    floor = math.ceil(n / copies)
    shared = _realtime(combined, serving.autoscaling, capacity, price, floor=floor)
    cost = shared.monthly_cost_usd
    return shared.model_copy(
        update={
            "mode": "multi-model",
            "copies_per_instance": copies,
            "cost_per_model_usd": cost / n if cost is not None else None,
            "estimate": True,
            "notes": [
                *shared.notes,
                f"≈ {copies} models per instance ({memory:g} GiB, {USABLE_MEMORY_SHARE:.0%} usable, "
                f"{serving.model_memory_mb} MB each); {n} models' traffic on one endpoint",
            ],
        }
    )


def _plans(
    option: ServingOption, rates: tuple[SavingsPlanRate, ...], on_demand: float
) -> list[SavingsPlanOption]:
    """Each plan with the commitment that minimises the month: commit k instances where the
    share of hours with at least k running is above the break-even utilisation."""
    if option.monthly_cost_usd is None or option.instance_hours is None:
        return []
    hours_by = option.hours_by_instances
    plans = []
    for rate in rates:
        if rate.usd_per_hour >= on_demand or on_demand <= 0:
            continue
        break_even = rate.usd_per_hour / on_demand
        committed = 0
        while committed < max(hours_by, default=0):
            share = sum(hours for count, hours in hours_by.items() if count > committed) / HOURS_PER_MONTH
            if share <= break_even:
                break
            committed += 1
        covered = sum(min(count, committed) * hours for count, hours in hours_by.items())
        monthly = (
            committed * HOURS_PER_MONTH * rate.usd_per_hour + (option.instance_hours - covered) * on_demand
        )
        plans.append(
            SavingsPlanOption(
                term_years=rate.term_years,
                payment=rate.payment,
                usd_per_hour=rate.usd_per_hour,
                committed_instances=committed,
                monthly_cost_usd=monthly,
                saving_usd=option.monthly_cost_usd - monthly,
                break_even_utilisation=break_even,
                source=rate.source,
                as_of=rate.as_of,
                estimate=rate.basis == "derived",
            )
        )
    return sorted(plans, key=lambda plan: plan.monthly_cost_usd)
