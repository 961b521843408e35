"""The explanation of a recommendation made under the monthly or the throughput objective.

The per-inference explanation (the published method's) is `recommend.explain`; this one names the
objective, the way to serve the traffic, its month, the Savings Plan, and the winners under the
other objectives when they differ (docs/method.md §7).
"""

from __future__ import annotations

from infercost.domain.formatting import usd
from infercost.domain.models import Slo
from infercost.domain.results import RankedCandidate, ServingOption
from infercost.domain.traffic import Objective, TrafficProfile

OBJECTIVE_NAMES: dict[str, str] = {
    "monthly": "monthly cost for the traffic",
    "per-inference": "cost per inference, one request in flight",
    "throughput": "cost per inference at sustained throughput",
}


def serving_phrase(option: ServingOption, label: str) -> str:
    """'autoscaling 1–3 × ml.c7g.large (target 420 invocations per instance per minute)', …"""
    policy = option.policy
    if option.mode == "realtime" and policy is not None:
        if policy.min_capacity == policy.max_capacity:
            return f"{policy.min_capacity} × {label} always on"
        return (
            f"a real-time endpoint autoscaling {policy.min_capacity}–{policy.max_capacity} × {label} "
            f"(target {policy.target_invocations_per_instance_per_minute:g} invocations per instance per minute)"
        )
    if option.mode == "serverless":
        share = option.cold_start_share or 0.0
        return f"{label} on demand ({share:.1%} of requests start cold)"
    if option.mode == "serverless-provisioned":
        return f"{label} with {option.provisioned_concurrency} provisioned concurrency"
    if option.mode == "async":
        top = policy.max_capacity if policy else 1
        return f"asynchronous inference on 0–{top} × {label}, scaled to zero when idle"
    if option.mode == "batch":
        return f"batch transform on {label} ({option.job_hours or 0:.1f} h per job)"
    if option.mode == "multi-model":
        floor = policy.min_capacity if policy else 1
        return (
            f"{option.copies_per_instance} models per {label} instance (at least {floor}), "
            f"{usd(option.cost_per_model_usd or 0.0)} per model"
        )
    return label


def describe_traffic(traffic: TrafficProfile) -> str:
    shape = " (hourly curve)" if traffic.has_curve else ""
    return f"{traffic.requests_per_month:,} requests a month at a peak of {traffic.peak_rps:g} req/s{shape}"


def explain_objective(
    ranked: list[RankedCandidate],
    slo: Slo,
    winner: RankedCandidate,
    traffic: TrafficProfile | None,
    objective: Objective,
    winners: dict[str, str | None],
) -> str:
    passing = [item for item in ranked if item.meets_slo]
    bound = slo.describe()
    if objective == "monthly" and traffic is not None and winner.serving_choice is not None:
        text = _monthly(ranked, bound, winner, winner.serving_choice, traffic)
    else:
        cost = winner.cost_per_100k_at_throughput_usd or 0.0
        rps = f" at {winner.max_rps_at_slo:.1f} req/s" if winner.max_rps_at_slo else ""
        text = (
            f"{winner.label} is the cheapest at sustained throughput of {len(passing)} "
            f"candidate{'s' if len(passing) != 1 else ''} that meet {bound}: {usd(cost)} per 100k{rps}."
        )
    failing = [item for item in ranked if not item.meets_slo]
    if failing:
        missed = "misses" if len(failing) == 1 else "miss"
        if any(item.slo_status == "uncertain" for item in failing):
            missed = "is not known to meet" if len(failing) == 1 else "are not known to meet"
        text += f" {len(failing)} of {len(ranked)} {missed} the SLO"
        cheaper = [item for item in failing if item.rank < winner.rank]
        text += f" ({cheaper[0].label}: {cheaper[0].slo_verdict})." if cheaper else "."
    text += _others(ranked, objective, winners, winner)
    return text


def _monthly(
    ranked: list[RankedCandidate],
    bound: str,
    winner: RankedCandidate,
    option: ServingOption,
    traffic: TrafficProfile,
) -> str:
    cost = option.monthly_cost_usd or 0.0
    mark = "≈ " if option.estimate else ""
    text = (
        f"Objective: {OBJECTIVE_NAMES['monthly']}. For {describe_traffic(traffic)}, the cheapest way to serve "
        f"it within {bound} is {serving_phrase(option, winner.label)}: {mark}{usd(cost)} a month"
    )
    if option.instance_hours is not None and option.mode in ("realtime", "multi-model", "async"):
        text += f" ({option.instance_hours:,.0f} instance-hours)"
    runner = next(
        (
            item
            for item in ranked
            if item is not winner
            and item.meets_slo
            and item.serving_choice is not None
            and item.serving_choice.monthly_cost_usd is not None
        ),
        None,
    )
    if runner is not None and runner.serving_choice is not None and runner.serving_choice.monthly_cost_usd:
        other = runner.serving_choice.monthly_cost_usd
        text += (
            f", {1 - cost / other:.0%} less than {runner.label} ({usd(other)}, {runner.serving_choice.mode})"
        )
    text += "."
    if option.hours_at_risk:
        text += f" Scaling out leaves {option.hours_at_risk:.1f} h a month above full capacity."
    plan = option.best_plan
    if plan is not None and plan.saving_usd > 0:
        instances = f"{plan.committed_instances} instance{'s' if plan.committed_instances != 1 else ''}"
        if plan.estimate:
            # A derived rate is a bound (the published "up to" discount), not a quote.
            text += (
                f" A {plan.term_years}-year {plan.payment} Savings Plan on {instances} could bring it down "
                f"to ≈ {usd(plan.monthly_cost_usd)} a month at best (the bundled rate is an upper bound "
                f"on the discount; break-even at {plan.break_even_utilisation:.0%} utilisation)."
            )
        else:
            text += (
                f" A {plan.term_years}-year {plan.payment} Savings Plan on {instances} brings it to "
                f"{usd(plan.monthly_cost_usd)} a month (break-even at {plan.break_even_utilisation:.0%} utilisation)."
            )
    return text


def _others(
    ranked: list[RankedCandidate],
    objective: Objective,
    winners: dict[str, str | None],
    winner: RankedCandidate,
) -> str:
    by_label = {item.label: item for item in ranked}
    parts = []
    for other, label in winners.items():
        if other == objective or label is None:
            continue
        item = by_label.get(label)
        same = " as well" if label == winner.label else ""
        if other == "per-inference" and item is not None:
            parts.append(
                f"per inference with one request in flight (the published method) {label} is cheapest{same} "
                f"({usd(item.cost_per_100k_usd)} per 100k)"
            )
        elif other == "throughput" and item is not None and item.cost_per_100k_at_throughput_usd is not None:
            parts.append(
                f"at sustained throughput {label}{same} ({usd(item.cost_per_100k_at_throughput_usd)} per 100k)"
            )
        elif other == "monthly" and item is not None and item.serving_choice is not None:
            parts.append(
                f"for the traffic's month {label}{same} ({usd(item.serving_choice.monthly_cost_usd or 0.0)}, "
                f"{item.serving_choice.mode})"
            )
    if not parts:
        return ""
    return " Under the other objectives: " + "; ".join(parts) + "."
