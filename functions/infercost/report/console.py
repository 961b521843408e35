"""What the CLI and the demo print on a terminal: the ranking, a load test, its progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from infercost.domain.results import Recommendation


def render_markdown(answer: Recommendation) -> str:
    """The recommendation as Markdown: verdict, explanation, ranked table."""
    from infercost.report.tables import markdown_table, price_footnotes, ranking_columns

    title = f"## {answer.model}: " + (
        f"use {answer.recommended.label}" if answer.recommended else "no candidate meets the SLO"
    )
    parts = [title, "", answer.reason, "", markdown_table(ranking_columns(answer), answer.ranked)]
    for note in price_footnotes(answer):
        parts += [note, ""]
    parts += [f"> {warning}" for warning in answer.warnings]
    if answer.price_note:
        parts.append(f"> Note: {answer.price_note}")
    return "\n".join(parts) + "\n"


def print_recommendation(answer: Recommendation, console: Console, *, with_failures: bool = True) -> None:
    """The recommendation for the terminal: ranked table, verdict and explanation."""
    from infercost.report.tables import confidence_note, price_footnotes, ranking_columns, rich_table

    title = f"{answer.model} in {answer.region} — SLO {answer.slo.describe()}"
    console.print(rich_table(ranking_columns(answer), answer.ranked, title=title))
    for note in price_footnotes(answer):
        console.print(f"[dim]{note}[/]", highlight=False)
    console.print(f"[dim]{confidence_note(answer)}[/]", highlight=False)
    if answer.recommended:
        console.print(f"[bold green]Recommended:[/] {answer.recommended.label}")
    elif any(item.slo_status == "uncertain" for item in answer.ranked):
        console.print("[bold yellow]Uncertain:[/] no candidate is sure to meet the SLO.")
    else:
        console.print("[bold red]No candidate meets the SLO.[/]")
    console.print(answer.reason, highlight=False)
    for failure in answer.failures if with_failures else []:
        console.print(
            f"[yellow]{failure.status}[/] {failure.candidate.label}: {failure.error}", highlight=False
        )
    if answer.price_note:
        console.print(f"[yellow]note[/]: {answer.price_note}", highlight=False)
    elif answer.prices_as_of:
        console.print(f"[dim]Snapshot prices as of {answer.prices_as_of}.[/]")


class LoadProgressBar:
    """A Rich progress bar on stderr, one line per phase and level."""

    def __enter__(self) -> Any:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
            # Drawn from the progress callback, not a refresh thread: a thread would take the GIL
            # from the load generator at random moments and show up in the measured latency.
            auto_refresh=False,
        )
        self.tasks: dict[tuple[str, int], Any] = {}
        self.drawn_at = 0.0
        self.bar.start()
        return self.update

    def update(self, event: Any) -> None:
        key = (event.phase, event.concurrency)
        if key not in self.tasks:
            label = event.phase if event.phase != "sweep" else f"concurrency {event.concurrency}"
            self.tasks[key] = self.bar.add_task(label, total=event.total)
        self.bar.update(self.tasks[key], completed=event.done)
        if event.done >= event.total or event.elapsed_s - self.drawn_at >= 0.5:
            self.drawn_at = event.elapsed_s
            self.bar.refresh()

    def __exit__(self, *_: object) -> None:
        self.bar.stop()


def print_load_test(result: Any, target: str, console: Console) -> None:
    """Percentiles per concurrency level, the max RPS at the SLO, and every note."""
    from infercost.report.tables import Column, rich_table

    def ms(name: str) -> Column[Any]:
        def cell(level: Any) -> str:
            value = (
                level.latency_at(name)
                if name != "avg"
                else (level.latency_ms.avg if level.latency_ms else None)
            )
            return "—" if value is None else f"{value:.2f}"

        return Column(name, cell, "right")

    columns: list[Column[Any]] = [
        Column("concurrency", lambda level: str(level.concurrency), "right"),
        Column("requests", lambda level: str(level.requests), "right"),
        Column("errors", lambda level: str(level.errors) if level.errors else "0", "right"),
        *(ms(name) for name in ("avg", "p50", "p90", "p95", "p99", "max")),
        Column("req/s", lambda level: f"{level.rps:.1f}", "right"),
    ]
    if any(level.first_byte_ms is not None for level in result.levels):
        columns.insert(
            3,
            Column(
                "first byte p50",
                lambda level: "—" if level.first_byte_ms is None else f"{level.first_byte_ms.p50:.2f}",
                "right",
            ),
        )
    if any(level.client_bound for level in result.levels):
        columns.append(Column("client", lambda level: "saturated" if level.client_bound else "ok"))
    if any(level.llm is not None for level in result.levels):
        columns.extend(token_columns())
    console.print(rich_table(columns, result.levels, title=f"Client-side latency (ms) of {target}"))
    if result.slo is not None:
        best = "none" if result.max_rps_at_slo is None else f"{result.max_rps_at_slo:.1f} req/s"
        console.print(f"Max throughput meeting {result.slo.describe()}: [bold]{best}[/]", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note[/]: {note}", highlight=False)
    if result.partial:
        console.print("[yellow]partial[/]: the run stopped before its plan was complete", highlight=False)


def token_columns() -> list[Any]:
    """An LLM level's columns: TTFT and ITL percentiles, output tokens and token goodput."""
    from infercost.report.tables import Column

    def stat(metric: str, name: str) -> Any:
        def cell(level: Any) -> str:
            stats = getattr(level.llm, metric) if level.llm is not None else None
            value = stats.at(name) if stats is not None else None
            return "—" if value is None else f"{value:.1f}"

        return Column(f"{metric.removesuffix('_ms').upper()} {name}", cell, "right")

    return [
        stat("ttft_ms", "p50"),
        stat("ttft_ms", "p90"),
        stat("itl_ms", "p50"),
        stat("itl_ms", "p90"),
        Column("out tokens", lambda level: str(level.llm.output_tokens) if level.llm else "—", "right"),
        Column(
            "goodput tok/s",
            lambda level: f"{level.llm.output_tokens_per_s:.1f}" if level.llm else "—",
            "right",
        ),
    ]
