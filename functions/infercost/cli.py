"""`infercost`: recommend from results, show prices, validate specs, and run the demo.

Every command is thin: parse the arguments, call one function of the package, print.
An `InfercostError` becomes one line on stderr and exit code 2; a completed run exits 0,
also when no candidate meets the SLO.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infercost.errors import InfercostError

if TYPE_CHECKING:
    from rich.console import Console

    from infercost.models import Recommendation
    from infercost.pricing.book import PriceBook

EXIT_INVALID_INPUT = 2


app = typer.Typer(
    help=(
        "Find the SageMaker endpoint configuration that meets your latency SLO at the lowest "
        "cost per inference — from measurements, not guesses."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
spec_app = typer.Typer(help="Write and check evaluation specs (infercost.json).", no_args_is_help=True)
app.add_typer(spec_app, name="spec")


class TableFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _stdout() -> Console:
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped or captured output: wide enough that table cells do not fold mid-word.
        console.width = 200
    return console


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _price_book(region: str, prices: Path | None, live: bool) -> PriceBook:
    from infercost.pricing.book import PriceBook

    return PriceBook.load(region, overrides=prices, live=live)


RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region", help="AWS region whose prices apply (default: the file's region, else us-east-1)."
    ),
]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help="Price overrides JSON: per-type hourly prices and/or a discount_percent (e.g. a Savings Plan).",
        dir_okay=False,
    ),
]


@app.command()
def recommend(
    results_file: Annotated[
        Path, typer.Argument(metavar="RESULTS.json", help="A results file (schema infercost.results/v1).")
    ],
    slo: Annotated[
        str | None,
        typer.Option(
            help="SLO as PERCENTILE:MS, e.g. p90:80 (overrides the file's slo). p50/p90/p95/p99/max."
        ),
    ] = None,
    prices: PricesOption = None,
    region: RegionOption = None,
    live_prices: Annotated[
        bool, typer.Option("--live-prices", help="Ask the AWS Price List API (needs credentials).")
    ] = False,
    max_error_rate: Annotated[
        float, typer.Option(help="A candidate with a higher error rate does not meet the SLO.", min=0, max=1)
    ] = 0.01,
    output: Annotated[
        TableFormat, typer.Option("--format", help="table, json or markdown.")
    ] = TableFormat.table,
) -> None:
    """Cost each measured candidate and recommend the cheapest one that meets the SLO.

    Cost per 100k inferences = hourly price ÷ 3600 × average latency (s) × 100,000; where the
    results carry max_rps_at_slo (a concurrency sweep) the cost at sustained throughput is
    ranked too. Prices come from the results file, then --prices, then the bundled snapshot.
    """
    from infercost.models import ResultsFile, Slo, load_json_file, parse_model
    from infercost.recommend import DEFAULT_REGION
    from infercost.recommend import recommend as run_recommend

    results = parse_model(ResultsFile, load_json_file(results_file))
    chosen_slo = Slo.parse(slo) if slo else None
    book = _price_book(region or results.region or DEFAULT_REGION, prices, live_prices)
    answer = run_recommend(results, book, slo=chosen_slo, max_error_rate=max_error_rate)
    if output is TableFormat.json:
        _print_json(answer.to_json())
    elif output is TableFormat.markdown:
        sys.stdout.write(render_markdown(answer))
    else:
        print_recommendation(answer, _stdout())


def render_markdown(answer: Recommendation) -> str:
    """The recommendation as Markdown: verdict, explanation, ranked table."""
    from infercost.tables import markdown_table, ranking_columns

    title = f"## {answer.model}: " + (
        f"use {answer.recommended.label}" if answer.recommended else "no candidate meets the SLO"
    )
    parts = [title, "", answer.reason, "", markdown_table(ranking_columns(answer), answer.ranked)]
    parts += [f"> {warning}" for warning in answer.warnings]
    return "\n".join(parts) + "\n"


def print_recommendation(answer: Recommendation, console: Console) -> None:
    """The recommendation for the terminal: ranked table, verdict and explanation."""
    from infercost.tables import ranking_columns, rich_table

    title = f"{answer.model} in {answer.region} — SLO {answer.slo.describe()}"
    console.print(rich_table(ranking_columns(answer), answer.ranked, title=title))
    if answer.recommended:
        console.print(f"[bold green]Recommended:[/] {answer.recommended.label}")
    else:
        console.print("[bold red]No candidate meets the SLO.[/]")
    console.print(answer.reason, highlight=False)
    for failure in answer.failures:
        console.print(
            f"[yellow]{failure.status}[/] {failure.candidate.label}: {failure.error}", highlight=False
        )
    if answer.prices_as_of:
        console.print(f"[dim]Snapshot prices as of {answer.prices_as_of}.[/]")


@app.command()
def prices(
    region: Annotated[str, typer.Option(help="AWS region.")] = "us-east-1",
    family: Annotated[
        str | None, typer.Option(help="Only this family, e.g. g5, c7g, eia2, serverless.")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="Ask the AWS Price List API (needs credentials).")
    ] = False,
    overrides: PricesOption = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Show on-demand hourly prices of SageMaker hosting instances, accelerators and serverless."""
    from infercost.tables import Column, rich_table, unit_price

    book = _price_book(region, overrides, live)
    rows = book.rows(family)
    if output is OutputFormat.json:
        _print_json(
            {
                "region": region,
                "snapshot_as_of": book.snapshot_as_of,
                "prices": [row.to_json() for row in rows],
            }
        )
        return
    columns: list[Column[Any]] = [
        Column("Kind", lambda row: row.kind),
        Column("Name", lambda row: row.name),
        Column("USD", lambda row: unit_price(row.usd), "right"),
        Column("Unit", lambda row: row.unit),
        Column("Source", lambda row: row.source),
    ]
    console = _stdout()
    console.print(rich_table(columns, rows, title=f"SageMaker hosting prices in {region}"))
    console.print(f"[dim]Snapshot as of {book.snapshot_as_of}.[/]")


EXAMPLE_SPEC: dict[str, Any] = {
    "model": {
        "name": "densenet121",
        "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311",
        "execution_role_arn": None,
        "environment": {},
    },
    "payload": {"content_type": "application/x-image", "s3_key": "models/densenet121/sample.jpg"},
    "candidates": [
        {"instance_type": "ml.c7g.large"},
        {"instance_type": "ml.c6i.xlarge"},
        {"instance_type": "ml.g5.xlarge", "instance_count": 1},
        {"instance_type": "ml.inf2.xlarge"},
        {"serverless": {"memory_mb": 4096, "max_concurrency": 10}},
    ],
    "slo": {"percentile": "p90", "max_latency_ms": 80},
    "load": {"warmup": 100, "requests": 1000, "concurrency": [1, 2, 4, 8, 16]},
    "traffic": {"requests_per_month": 10000000, "peak_rps": 20},
    "max_benchmark_cost_usd": 5.0,
}


@spec_app.command("example")
def spec_example() -> None:
    """Print a complete, valid evaluation spec to start from (save it as infercost.json)."""
    _print_json(EXAMPLE_SPEC)


@spec_app.command("validate")
def spec_validate(
    spec_file: Annotated[Path, typer.Argument(metavar="FILE", help="An infercost.json evaluation spec.")],
    region: Annotated[
        str, typer.Option(help="Region whose price list the candidates must be in.")
    ] = "us-east-1",
) -> None:
    """Check a spec: every field, every candidate known and priced in the region. Exit 2 if not."""
    from infercost.models import EvaluationSpec, load_json_file, parse_model

    spec = parse_model(EvaluationSpec, load_json_file(spec_file))
    book = _price_book(region, None, False)
    for index, candidate in enumerate(spec.candidates):
        try:
            book.check_candidate(candidate)
        except InfercostError as error:
            field = f"candidates[{index}].{error.field}" if error.field else f"candidates[{index}]"
            raise type(error)(error.message, field=field, hint=error.hint) from None
    console = _stdout()
    console.print(
        f"[green]valid[/]: model {spec.model.name}, {len(spec.candidates)} candidates, "
        f"SLO {spec.slo.describe()}, {spec.load.warmup} warm-up + {spec.load.requests} measured requests"
        + (f", concurrency sweep {spec.load.concurrency}" if spec.load.sweeps else ""),
        highlight=False,
    )
    for candidate in spec.candidates:
        if candidate.uses_elastic_inference:
            from infercost.recommend import ELASTIC_INFERENCE_WARNING

            console.print(
                f"[yellow]warning[/]: {candidate.label}: {ELASTIC_INFERENCE_WARNING}", highlight=False
            )


@app.command()
def plan(
    spec_file: Annotated[Path, typer.Argument(metavar="SPEC", help="An infercost.json evaluation spec.")],
    region: Annotated[str, typer.Option(help="Region whose prices apply.")] = "us-east-1",
    prices: PricesOption = None,
    max_concurrency: Annotated[
        int, typer.Option(help="Candidates benchmarked at once (the Map's MaxConcurrency).", min=1, max=100)
    ] = 4,
    metrics_delay: Annotated[
        float, typer.Option(help="Seconds waited for CloudWatch after each load test.", min=0)
    ] = 60,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Estimate wall time, endpoint time and benchmark cost before a run — and check the budget.

    Compares infercost's parallel workflow with the seed's sequential protocol and SageMaker
    Inference Recommender's 45-minute Default job. Exit 2 when the estimate exceeds the spec's
    max_benchmark_cost_usd (the workflow would refuse the run).
    """
    from infercost.models import EvaluationSpec, load_json_file, parse_model
    from infercost.planning import check_budget, minutes, plan_run
    from infercost.tables import Column, money, rich_table

    spec = parse_model(EvaluationSpec, load_json_file(spec_file))
    estimate = plan_run(
        spec,
        _price_book(region, prices, False),
        max_concurrency=max_concurrency,
        metrics_delay_s=metrics_delay,
    )
    if output is OutputFormat.json:
        _print_json(estimate.model_dump(mode="json"))
    else:
        console = _stdout()
        columns: list[Column[Any]] = [
            Column("Candidate", lambda item: item.label),
            Column(
                "$/hour",
                lambda item: money(item.price_per_hour_usd) if item.price_per_hour_usd else "per use",
                "right",
            ),
            Column("create", lambda item: minutes(item.create_s), "right"),
            Column("load", lambda item: minutes(item.load_s), "right"),
            Column("metrics", lambda item: minutes(item.metrics_s), "right"),
            Column("endpoint time", lambda item: minutes(item.endpoint_seconds), "right"),
            Column("cost", lambda item: money(item.cost_usd), "right"),
        ]
        console.print(
            rich_table(columns, estimate.candidates, title=f"Plan for {estimate.model} in {region}")
        )
        strategies: list[Column[Any]] = [
            Column("Strategy", lambda item: item.name),
            Column("wall time", lambda item: minutes(item.wall_seconds), "right"),
            Column("endpoint time", lambda item: minutes(item.endpoint_seconds), "right"),
            Column(
                "cost",
                lambda item: money(item.cost_usd) if item.cost_usd is not None else "not published",
                "right",
            ),
            Column("Note", lambda item: item.note),
        ]
        console.print(rich_table(strategies, estimate.strategies, title="The same benchmark, three ways"))
        assumed = ", ".join(f"{key}={value:g}" for key, value in estimate.assumptions.items())
        console.print(f"[dim]Assumptions: {assumed}.[/]", highlight=False)
        budget = money(estimate.budget_usd) if estimate.budget_usd is not None else "none set"
        console.print(
            f"Estimated benchmark cost {money(estimate.cost_usd)}; budget {budget}.", highlight=False
        )
    check_budget(estimate)


@app.command()
def demo() -> None:
    """Run the whole evaluation on an embedded local AWS stack (no AWS account needed)."""
    _stderr().print("The demo is not built yet (issue 8).")
    raise typer.Exit(1)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: an InfercostError is one line on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="infercost")
    except InfercostError as error:
        sys.stderr.write(f"error: {error.one_line()}\n")
        raise SystemExit(EXIT_INVALID_INPUT) from None


if __name__ == "__main__":
    main()
