"""Every table infercost prints is built from one list of columns, so no row can miss a cell.

The same column list renders to the terminal (Rich), Markdown and HTML (the report).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, Literal, TypeVar

from infercost.domain.formatting import ESTIMATE_FOOTNOTE, estimated, millis, money
from infercost.domain.price_basis import is_estimate
from infercost.domain.results import RankedCandidate, Recommendation

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
    if any(item.monthly is not None for item in ranked):
        columns.append(
            Column(
                "$/month",
                lambda item: money(item.monthly.monthly_cost_usd) if item.monthly else "—",
                "right",
            )
        )
    columns += [
        Column("SLO", lambda item: "meets" if item.meets_slo else f"misses: {item.slo_verdict}"),
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


def price_cell(item: RankedCandidate) -> str:
    """A candidate's hourly price ('per use' for serverless), marked when it is an estimate."""
    text = "per use" if item.price_per_hour_usd is None else money(item.price_per_hour_usd)
    return estimated(text, is_estimate(item.price_basis))


def price_footnotes(recommendation: Recommendation) -> list[str]:
    """What a table of this recommendation says under it about its prices: the estimate mark."""
    return [ESTIMATE_FOOTNOTE] if recommendation.estimated_prices else []
