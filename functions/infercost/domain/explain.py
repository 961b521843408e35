"""The paragraph that says what was recommended and why, with the numbers that decided it.

`explain` is the per-inference explanation (the published method's); under the monthly or the
throughput objective, `explain_objective` names the objective, the way to serve the traffic, its
month, the Savings Plan, and the winners under the other objectives when they differ
(docs/method.md §7).
"""

from __future__ import annotations

from infercost.domain.formatting import usd
from infercost.domain.models import Slo
from infercost.domain.results import RankedCandidate, ServingOption
from infercost.domain.traffic import Objective, TrafficProfile

ELASTIC_INFERENCE_WARNING = (
    "Amazon Elastic Inference is closed to new customers (since April 2023); "
    "its price is shown for comparison only"
)
OBJECTIVE_NAMES: dict[str, str] = {
    "monthly": "monthly cost for the traffic",
    "per-inference": "cost per inference, one request in flight",
    "throughput": "cost per inference at sustained throughput",
    "per-token": "cost per million output tokens at the token goodput",
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
        elif other == "per-token" and item is not None and item.cost_per_1m_output_tokens_usd is not None:
            parts.append(
                f"per million output tokens {label}{same} ({usd(item.cost_per_1m_output_tokens_usd)} per 1M)"
            )
        elif other == "monthly" and item is not None and item.serving_choice is not None:
            parts.append(
                f"for the traffic's month {label}{same} ({usd(item.serving_choice.monthly_cost_usd or 0.0)}, "
                f"{item.serving_choice.mode})"
            )
    if not parts:
        return ""
    return " Under the other objectives: " + "; ".join(parts) + "."


def explain(
    ranked: list[RankedCandidate],
    slo: Slo,
    recommended: RankedCandidate | None,
    recommended_at_throughput: RankedCandidate | None,
    traffic: TrafficProfile | None,
    *,
    objective: Objective = "per-inference",
    winners: dict[str, str | None] | None = None,
) -> str:
    """One paragraph saying what was chosen and why, with the numbers that decided it."""
    if objective != "per-inference" and recommended is not None:
        return explain_objective(ranked, slo, recommended, traffic, objective, winners or {})
    total = len(ranked)
    passing = [item for item in ranked if item.meets_slo]
    bound = slo.describe()
    if recommended is None:
        unsure = [item for item in ranked if item.slo_status == "uncertain"]
        if unsure:
            return (
                f"No candidate of {total} is known to meet {bound}: the cheapest that might, "
                f"{unsure[0].label}, has {unsure[0].slo_verdict}. Measure more requests to decide."
            )
        fastest = min(ranked, key=lambda item: item.slo_latency_ms)
        over = (fastest.slo_latency_ms / slo.max_latency_ms - 1) if slo.max_latency_ms else 0
        within = [item for item in ranked if item.slo_latency_ms <= slo.max_latency_ms]
        if within:
            return (
                f"No candidate of {total} meets {bound} without errors: "
                f"{within[0].label} is within the latency bound but {within[0].slo_verdict}. "
                "Investigate the failing requests before relying on these figures."
            )
        return (
            f"No candidate of {total} meets {bound}: the fastest, {fastest.label}, has "
            f"{slo.percentile.upper()} {fastest.slo_latency_ms:.1f} ms ({over:.0%} over the bound). "
            "Relax the SLO or add faster candidates (GPU or Inferentia instances, larger CPUs)."
        )
    winner = recommended
    if len(passing) > 1:
        text = f"{winner.label} is the cheapest of {len(passing)} candidates that meet {bound}"
    else:
        text = f"{winner.label} is the only candidate of {total} that meets {bound}"
    text += (
        f": {usd(winner.cost_per_100k_usd)} per 100k inferences at "
        f"{slo.percentile.upper()} {winner.slo_latency_ms:.1f} ms"
    )
    runner_up = next((item for item in passing if item is not winner), None)
    if runner_up is not None and runner_up.cost_per_100k_usd > 0:
        saving = 1 - winner.cost_per_100k_usd / runner_up.cost_per_100k_usd
        text += f", {saving:.0%} cheaper than the runner-up {runner_up.label} ({usd(runner_up.cost_per_100k_usd)})"
    text += "."
    failing = [item for item in ranked if not item.meets_slo]
    if failing:
        cheaper_failing = [item for item in failing if item.rank < winner.rank]
        missed = "misses" if len(failing) == 1 else "miss"
        if any(item.slo_status == "uncertain" for item in failing):
            missed = "is not known to meet" if len(failing) == 1 else "are not known to meet"
        text += f" {len(failing)} of {total} {missed} the SLO"
        if cheaper_failing:
            cheapest = cheaper_failing[0]
            text += (
                f"; the cheapest of those, {cheapest.label}, would cost "
                f"{usd(cheapest.cost_per_100k_usd)} but has {cheapest.slo_verdict}"
            )
        text += "."
    sustained = recommended_at_throughput
    sustained_cost = sustained.cost_per_100k_at_throughput_usd if sustained else None
    if sustained is not None and sustained_cost is not None:
        rps = f" at {sustained.max_rps_at_slo:.1f} req/s" if sustained.max_rps_at_slo else ""
        same = " as well" if sustained.label == winner.label else ""
        text += (
            f" At sustained throughput (concurrency sweep) {sustained.label} is cheapest{same}: "
            f"{usd(sustained_cost)} per 100k{rps}."
        )
    if traffic is not None:
        projected = [
            (item, item.monthly)
            for item in passing
            if item.monthly is not None
            and item.monthly.meets_peak
            and item.monthly.monthly_cost_usd is not None
        ]
        if projected:
            best, monthly = min(projected, key=lambda pair: pair[1].monthly_cost_usd or 0.0)
            shape = (
                f"{monthly.instances_needed} × {best.label}"
                if monthly.instances_needed is not None
                else best.label
            )
            text += (
                f" For {traffic.requests_per_month:,} requests a month at a peak of {traffic.peak_rps:g} req/s, "
                f"the cheapest way to serve it is {shape} at {usd(monthly.monthly_cost_usd or 0.0)} a month."
            )
    if winner.candidate.uses_elastic_inference:
        text += f" Note: {ELASTIC_INFERENCE_WARNING}."
    return text
