"""The report's "How to serve it" section: each candidate's serving modes and months, the chosen
mode, its scaling policy or endpoint config (as CloudFormation), and the Savings Plans."""

from __future__ import annotations

import html
import json

from infercost.domain.errors import InputError
from infercost.domain.explain import OBJECTIVE_NAMES, describe_traffic, serving_phrase
from infercost.domain.formatting import estimated, money, usd
from infercost.domain.results import Recommendation, SavingsPlanOption, ServingOption
from infercost.report.tables import Column, html_table


def section_serving(rec: Recommendation | None, uri: str | None) -> str:
    """The section, or "" when the recommendation has no traffic profile to serve."""
    if rec is None or rec.traffic is None or not any(item.serving_options for item in rec.ranked):
        return ""
    rows = [
        (item.rank, item.label, item.meets_slo, option)
        for item in rec.ranked
        for option in item.serving_options
    ]
    columns: list[Column[tuple[int, str, bool, ServingOption]]] = [
        Column("#", lambda row: str(row[0]), "right"),
        Column("Candidate", lambda row: row[1]),
        Column("Mode", lambda row: row[3].mode),
        Column("$/month", lambda row: _monthly(row[3]), "right"),
        Column("Instance-hours", lambda row: _hours(row[3].instance_hours), "right"),
        Column("Hours at risk", lambda row: _hours(row[3].hours_at_risk), "right"),
        Column("Serves within SLO", lambda row: "yes" if row[2] and row[3].meets_slo else "no"),
        Column("Notes", lambda row: "; ".join(row[3].notes)),
    ]
    lead = (
        f"Objective: {OBJECTIVE_NAMES[rec.objective]}. Traffic: {describe_traffic(rec.traffic)}"
        + (f", from {rec.traffic.source}" if rec.traffic.source else "")
        + ". Real-time endpoints: SageMaker target tracking simulated minute by minute over the week "
        "(docs/method.md §7)."
    )
    chosen = ""
    winner = rec.recommended
    if winner is not None and rec.serving is not None:
        option = rec.serving
        chosen = (
            f"<p><strong>Chosen:</strong> {html.escape(serving_phrase(option, winner.label))} — "
            f"{html.escape(_monthly(option))} a month.</p>" + _plans(option.savings_plans) + _deploy(rec)
        )
    figure = f'<figure><img alt="Monthly cost by serving mode" src="{uri}"></figure>' if uri else ""
    table = f'<div class="scroll">{html_table(columns, rows, css_class="plain")}</div>'
    return (
        '<section id="serving"><h2>How to serve it</h2>'
        f'<p class="caption">{html.escape(lead)}</p>{figure}{table}{chosen}</section>'
    )


def _monthly(option: ServingOption) -> str:
    if option.monthly_cost_usd is None:
        return "—"
    return estimated(money(option.monthly_cost_usd), option.estimate)


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _plans(plans: list[SavingsPlanOption]) -> str:
    if not plans:
        return (
            '<p class="caption">No Savings Plan rate is known for this instance type in the price data, '
            "so the month is on demand.</p>"
        )
    columns: list[Column[SavingsPlanOption]] = [
        Column("Plan", lambda plan: f"{plan.term_years} year, {plan.payment}"),
        Column("$/hour", lambda plan: estimated(money(plan.usd_per_hour), plan.estimate), "right"),
        Column("Committed instances", lambda plan: str(plan.committed_instances), "right"),
        Column("$/month", lambda plan: estimated(money(plan.monthly_cost_usd), plan.estimate), "right"),
        Column("Saving", lambda plan: estimated(usd(plan.saving_usd), plan.estimate), "right"),
        Column("Break-even utilisation", lambda plan: f"{plan.break_even_utilisation:.0%}", "right"),
        Column("Source", lambda plan: plan.source + (f", {plan.as_of}" if plan.as_of else "")),
    ]
    return (
        "<h3>Savings Plans</h3>"
        + f'<div class="scroll">{html_table(columns, plans, css_class="plain")}</div>'
    )


def _deploy(rec: Recommendation) -> str:
    from infercost.report.cloudformation import template

    try:
        body = json.dumps(template(rec), indent=2, ensure_ascii=False)
    except InputError as error:
        return f'<p class="caption">{html.escape(error.message)}.</p>'
    return (
        '<h3>Deploy it</h3><p class="caption">The same template as <code>infercost recommend '
        "--emit cloudformation</code>; the model and endpoint are parameters.</p>"
        f"<pre>{html.escape(body)}</pre>"
    )
