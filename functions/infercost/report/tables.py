"""Every table infercost prints is built from one list of columns, so no row can miss a cell.

The same column list renders to the terminal (Rich), Markdown and HTML (the report).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from infercost.domain.confidence import DEFAULT_LEVEL
from infercost.domain.formatting import ESTIMATE_FOOTNOTE, estimated, millis, money
from infercost.domain.price_basis import is_estimate
from infercost.domain.results import RankedCandidate, Recommendation, ServingOption

if TYPE_CHECKING:
    from rich.table import Table

T = TypeVar("T")
Justify = Literal["left", "right", "center"]


@dataclass(frozen=True)
class Column(Generic[T]):
    """A header and how to render one row's cell for it."""

    header: str
    value: Callable[[T], str]
    justify: Justify = "left"


def cells(columns: Sequence[Column[T]], rows: Sequence[T]) -> list[list[str]]:
    """The rendered cells: one list per row, always exactly one cell per column."""
    return [[column.value(row) for column in columns] for row in rows]


def rich_table(columns: Sequence[Column[T]], rows: Sequence[T], *, title: str | None = None) -> Table:
    """A Rich table for the terminal."""
    from rich.table import Table

    table = Table(title=title, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column.header, justify=column.justify, overflow="fold")
    for row in cells(columns, rows):
        table.add_row(*row)
    return table


def markdown_table(columns: Sequence[Column[T]], rows: Sequence[T]) -> str:
    """A GitHub-flavoured Markdown table."""
    align = {"left": ":---", "right": "---:", "center": ":---:"}

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(value.replace("|", "\\|") for value in values) + " |"

    out = [line([column.header for column in columns]), line([align[column.justify] for column in columns])]
    out.extend(line(row) for row in cells(columns, rows))
    return "\n".join(out) + "\n"


def html_table(columns: Sequence[Column[T]], rows: Sequence[T], *, css_class: str = "table") -> str:
    """An HTML table with escaped cells (for the report)."""
    head = "".join(f'<th class="{column.justify}">{html.escape(column.header)}</th>' for column in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{column.justify}">{html.escape(value)}</td>'
            for column, value in zip(columns, row, strict=True)
        )
        + "</tr>"
        for row in cells(columns, rows)
    )
    return f'<table class="{css_class}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def ranking_columns(recommendation: Recommendation) -> list[Column[RankedCandidate]]:
    """The ranked-candidates columns, shared by the CLI table, Markdown and the HTML report.

    Throughput, sweep and monthly columns appear only when some candidate has those figures.
    """
    ranked = recommendation.ranked
    percentile = recommendation.slo.percentile.upper()
    picked = recommendation.recommended.label if recommendation.recommended else None

    def notes(item: RankedCandidate) -> str:
        parts = []
        if item.label == picked:
            parts.append("recommended")
        if item.pareto_optimal:
            parts.append("Pareto")
        if item.candidate.uses_elastic_inference:
            parts.append("EI retired")
        if item.errors:
            parts.append(f"{item.errors} errors")
        return ", ".join(parts)

    columns: list[Column[RankedCandidate]] = [
        Column("#", lambda item: str(item.rank), "right"),
        Column("Candidate", lambda item: item.label),
        Column("$/hour", price_cell, "right"),
        Column(f"{percentile} ms", lambda item: millis(item.slo_latency_ms), "right"),
        Column("avg ms", lambda item: millis(item.latency_ms.avg), "right"),
        Column("$/100k", lambda item: money(item.cost_per_100k_usd), "right"),
    ]
    if any(item.max_rps_at_slo is not None for item in ranked):
        columns.append(
            Column(
                "max RPS at SLO",
                lambda item: "—" if item.max_rps_at_slo is None else f"{item.max_rps_at_slo:,.1f}",
                "right",
            )
        )
    if any(item.cost_per_100k_at_throughput_usd is not None for item in ranked):
        columns.append(
            Column("$/100k at max RPS", lambda item: money(item.cost_per_100k_at_throughput_usd), "right")
        )
    if any(item.llm is not None for item in ranked):
        columns.extend(token_columns())
    if any(item.monthly_token_cost_usd is not None for item in ranked):
        columns.append(monthly_token_column())
    if any(item.serving_options for item in ranked):
        columns += [
            Column("Serve as", lambda item: serving_cell(item.serving_choice)),
            Column("$/month", lambda item: monthly_cell(item.serving_choice), "right"),
        ]
    elif any(item.monthly is not None for item in ranked):
        columns.append(
            Column(
                "$/month",
                lambda item: money(item.monthly.monthly_cost_usd) if item.monthly else "—",
                "right",
            )
        )
    if any(item.slo_interval_ms is not None for item in ranked):
        columns.append(Column(f"{percentile} {_level(ranked)} % CI", interval_cell, "right"))
    columns += [
        Column("SLO", slo_cell),
        Column("Notes", notes),
    ]
    return columns


def token_columns() -> list[Column[RankedCandidate]]:
    """A streamed (LLM) candidate's figures: TTFT and ITL at P90, token goodput, $ per 1M tokens."""

    def p90(metric: str) -> Callable[[RankedCandidate], str]:
        def cell(item: RankedCandidate) -> str:
            stats = getattr(item.llm, metric) if item.llm is not None else None
            return millis(stats.p90 if stats is not None and stats.p90 is not None else None)

        return cell

    return [
        Column("TTFT P90 ms", p90("ttft_ms"), "right"),
        Column("ITL P90 ms", p90("itl_ms"), "right"),
        Column(
            "out tok/s",
            lambda item: f"{item.llm.output_tokens_per_s:,.1f}" if item.llm is not None else "—",
            "right",
        ),
        Column("$/1M out tokens", lambda item: money(item.cost_per_1m_output_tokens_usd), "right"),
    ]


def monthly_token_column() -> Column[RankedCandidate]:
    """A month of the traffic profile's output tokens (docs/method.md §9)."""
    return Column("$/month of tokens", lambda item: money(item.monthly_token_cost_usd), "right")


def serving_cell(option: ServingOption | None) -> str:
    """The serving mode in a few words: 'autoscale 1–3', 'serverless', 'async 0–2', …"""
    if option is None:
        return "—"
    policy = option.policy
    if option.mode == "realtime" and policy is not None:
        if policy.min_capacity == policy.max_capacity:
            return f"{policy.min_capacity} always on"
        return f"autoscale {policy.min_capacity}–{policy.max_capacity}"
    if option.mode == "serverless-provisioned":
        return f"serverless, {option.provisioned_concurrency} provisioned"
    if option.mode == "async" and policy is not None:
        return f"async 0–{policy.max_capacity}"
    if option.mode == "batch":
        return f"batch {option.job_hours or 0:.1f} h/job"
    if option.mode == "multi-model":
        return f"{option.copies_per_instance} models/instance"
    return option.mode


def monthly_cell(option: ServingOption | None) -> str:
    if option is None or option.monthly_cost_usd is None:
        return "—"
    return estimated(money(option.monthly_cost_usd), option.estimate)


def slo_cell(item: RankedCandidate) -> str:
    """'meets', '? uncertain' (the interval straddles the bound), or 'misses: <why>'."""
    if item.slo_status == "meets":
        return "meets"
    if item.slo_status == "uncertain":
        return "? uncertain"
    return f"misses: {item.slo_verdict}"


def interval_cell(item: RankedCandidate) -> str:
    """The SLO percentile's interval in ms ('74.9–81.6'; '∞' when too few samples bound it), or
    'point estimate' when the result had none."""
    if item.slo_interval_ms is None:
        return "point estimate"
    lo, hi = item.slo_interval_ms
    return f"{millis(lo) if lo is not None else '?'}–{millis(hi) if hi is not None else '∞'}"


def _level(ranked: Sequence[RankedCandidate]) -> str:
    levels = {item.confidence.level for item in ranked if item.confidence is not None}
    return f"{(levels.pop() if len(levels) == 1 else DEFAULT_LEVEL) * 100:g}"


def price_cell(item: RankedCandidate) -> str:
    """A candidate's hourly price ('per use' for serverless), marked when it is an estimate."""
    text = "per use" if item.price_per_hour_usd is None else money(item.price_per_hour_usd)
    return estimated(text, is_estimate(item.price_basis))


def price_footnotes(recommendation: Recommendation) -> list[str]:
    """What a table of this recommendation says under it about its prices: the estimate mark."""
    notes = [ESTIMATE_FOOTNOTE] if recommendation.estimated_prices else []
    if any(item.serving_choice and item.serving_choice.estimate for item in recommendation.ranked):
        notes.append(SERVING_ESTIMATE_FOOTNOTE)
    return notes


SERVING_ESTIMATE_FOOTNOTE = (
    "≈ on $/month: the figure rests on an assumption the explanation names (serverless cold starts "
    "after an idle time AWS does not publish, provisioned concurrency priced at the compute rate, or "
    "instance memory for models per instance); docs/method.md §7."
)


def confidence_note(recommendation: Recommendation) -> str:
    """How sure the SLO verdicts are: the interval rule, and which results had only a point estimate."""
    percentile = recommendation.slo.percentile.upper()
    ranked = recommendation.ranked
    rule = (
        f"The SLO is met when the upper bound of the {_level(ranked)} % confidence interval of {percentile} "
        "is within it, missed when the lower bound is above it, uncertain in between "
        "(distribution-free order-statistic intervals, docs/method.md §8)."
    )
    point = [item.label for item in ranked if item.slo_interval_ms is None]
    if point:
        rule += f" Point estimate, no interval (no sketch, or the maximum): {', '.join(point)}."
    return rule
