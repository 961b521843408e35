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

from infercost.domain.errors import InfercostError, InputError
from infercost.local.faults import FAULT_POINTS

if TYPE_CHECKING:
    from rich.console import Console

    from infercost.data.pricing.book import PriceBook
    from infercost.data.store import ResultsStore
    from infercost.domain.models import RankedCandidate, Recommendation
    from infercost.domain.records import CandidateRecord, RunRecord

EXIT_INVALID_INPUT = 2
# infercost.local.demo.DEFAULT_CANDIDATES, not imported: the demo's modules load when it runs.
DEMO_DEFAULT_CANDIDATES = 4


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
    from infercost.data.pricing.book import PriceBook

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
    from infercost.domain.models import ResultsFile, Slo, load_json_file, parse_model
    from infercost.domain.recommend import DEFAULT_REGION
    from infercost.domain.recommend import recommend as run_recommend

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
    from infercost.report.tables import markdown_table, ranking_columns

    title = f"## {answer.model}: " + (
        f"use {answer.recommended.label}" if answer.recommended else "no candidate meets the SLO"
    )
    parts = [title, "", answer.reason, "", markdown_table(ranking_columns(answer), answer.ranked)]
    parts += [f"> {warning}" for warning in answer.warnings]
    return "\n".join(parts) + "\n"


def print_recommendation(answer: Recommendation, console: Console, *, with_failures: bool = True) -> None:
    """The recommendation for the terminal: ranked table, verdict and explanation."""
    from infercost.report.tables import ranking_columns, rich_table

    title = f"{answer.model} in {answer.region} — SLO {answer.slo.describe()}"
    console.print(rich_table(ranking_columns(answer), answer.ranked, title=title))
    if answer.recommended:
        console.print(f"[bold green]Recommended:[/] {answer.recommended.label}")
    else:
        console.print("[bold red]No candidate meets the SLO.[/]")
    console.print(answer.reason, highlight=False)
    for failure in answer.failures if with_failures else []:
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
    from infercost.domain.formatting import unit_price
    from infercost.report.tables import Column, rich_table

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
    from infercost.domain.models import EvaluationSpec, load_json_file, parse_model

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
            from infercost.domain.recommend import ELASTIC_INFERENCE_WARNING

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
        float, typer.Option(help="Seconds from the last measured request until CloudWatch is read.", min=0)
    ] = 60,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Estimate wall time, endpoint time and benchmark cost before a run — and check the budget.

    Compares infercost's parallel workflow with the seed's sequential protocol and SageMaker
    Inference Recommender's 45-minute Default job. Exit 2 when the estimate exceeds the spec's
    max_benchmark_cost_usd (the workflow would refuse the run).
    """
    from infercost.domain.formatting import minutes, money
    from infercost.domain.models import EvaluationSpec, load_json_file, parse_model
    from infercost.domain.planning import check_budget, plan_run
    from infercost.report.tables import Column, rich_table

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
            Column("release wait", lambda item: minutes(item.release_wait_s), "right"),
            Column("delete", lambda item: minutes(item.teardown_s), "right"),
            Column("endpoint time", lambda item: minutes(item.endpoint_seconds), "right"),
            Column("metrics wait", lambda item: minutes(item.metrics_wait_s), "right"),
            Column("cost", lambda item: money(item.cost_usd), "right"),
        ]
        console.print(
            rich_table(columns, estimate.candidates, title=f"Plan for {estimate.model} in {region}")
        )
        console.print(
            "[dim]Endpoint time = create + load + release wait (until the measured run's last "
            "minute has closed) + delete; the metrics wait comes after the endpoint is deleted, "
            "in the wall time only.[/]",
            highlight=False,
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


TableOption = Annotated[
    str | None,
    typer.Option(
        "--table", help="Results table name (default: --stack's output, else $INFERCOST_TABLE_NAME)."
    ),
]
StackOption = Annotated[
    str | None,
    typer.Option("--stack", help="Deployed infercost stack: its ResultsTableName output names the table."),
]
EndpointUrlOption = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="AWS endpoint, e.g. the local demo's http://127.0.0.1:PORT."),
]
StoreRegionOption = Annotated[str | None, typer.Option("--region", help="AWS region of the stack/table.")]


def _open_store(
    table: str | None, stack: str | None, region: str | None, endpoint_url: str | None
) -> tuple[ResultsStore, str]:
    from infercost.data.history import open_store

    return open_store(table=table, stack=stack, region=region, endpoint_url=endpoint_url)


def _when(timestamp: str | None) -> str:
    """'2026-11-20T10:00:00.000Z' -> '2026-11-20 10:00:00'."""
    return timestamp.replace("T", " ").removesuffix("Z").split(".")[0] if timestamp else "—"


@app.command()
def history(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="The model's name, as in its spec.")],
    limit: Annotated[int, typer.Option(help="Newest runs to show.", min=1, max=1000)] = 20,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    table: TableOption = None,
    stack: StackOption = None,
    region: StoreRegionOption = None,
    endpoint_url: EndpointUrlOption = None,
) -> None:
    """A model's evaluations, newest first: status, recommendation, cost, benchmark cost."""
    from infercost.data.history import model_history
    from infercost.domain.formatting import millis, money
    from infercost.report.tables import Column, rich_table

    store, table_name = _open_store(table, stack, region, endpoint_url)
    runs = model_history(store, model, limit, table_name=table_name)
    if output is OutputFormat.json:
        _print_json([run.model_dump(mode="json", exclude_none=True) for run in runs])
        return
    answers = {run.run_id: run.parsed_recommendation() for run in runs}

    def winner(run: RunRecord) -> RankedCandidate | None:
        answer = answers[run.run_id]
        return answer.recommended if answer else None

    def verdict(run: RunRecord) -> str:
        answer = answers[run.run_id]
        if run.status != "SUCCEEDED" or answer is None:
            return run.error or ("running" if run.status == "RUNNING" else "—")
        return answer.recommended.label if answer.recommended else "none meets the SLO"

    def latency(run: RunRecord) -> str:
        best = winner(run)
        return millis(best.slo_latency_ms) if best else "—"

    columns: list[Column[RunRecord]] = [
        Column("Started (UTC)", lambda run: _when(run.started_at)),
        Column("Run", lambda run: run.run_id),
        Column("Status", lambda run: run.status),
        Column("SLO", lambda run: run.slo.describe() if run.slo else "—"),
        Column("Recommended", verdict),
        Column(
            "$/100k", lambda run: money(best.cost_per_100k_usd) if (best := winner(run)) else "—", "right"
        ),
        Column("SLO ms", latency, "right"),
        Column("Benchmark $", lambda run: money(run.benchmark_cost_usd), "right"),
        Column("Regressions", lambda run: str(len(run.regressions)) if run.regressions else "—", "right"),
    ]
    _stdout().print(rich_table(columns, runs, title=f"{model}: {len(runs)} newest runs in {table_name}"))


@app.command()
def show(
    run_id: Annotated[
        str, typer.Argument(metavar="RUN_ID", help="A run id (see `infercost history MODEL`).")
    ],
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
    table: TableOption = None,
    stack: StackOption = None,
    region: StoreRegionOption = None,
    endpoint_url: EndpointUrlOption = None,
) -> None:
    """One run: its candidates (measured, failed, skipped) and its recommendation."""
    from infercost.data.history import find_run
    from infercost.domain.formatting import millis, money
    from infercost.report.tables import Column, rich_table

    store, table_name = _open_store(table, stack, region, endpoint_url)
    view = find_run(store, run_id, table_name=table_name)
    if output is OutputFormat.json:
        _print_json(view.model_dump(mode="json", exclude_none=True))
        return
    run = view.run
    console = _stdout()
    console.print(
        f"[bold]{run.model}[/] run {run.run_id}: {run.status}, {_when(run.started_at)} → "
        f"{_when(run.finished_at)}" + (f", {run.region}" if run.region else ""),
        highlight=False,
    )
    if run.artifact:
        console.print(f"artifact s3://{run.artifact.bucket}/{run.artifact.key}", highlight=False)
    if run.error:
        console.print(f"[bold red]error:[/] {run.error}", highlight=False)
    percentile = run.slo.percentile if run.slo else "p90"

    def measured(record: CandidateRecord, name: str) -> str:
        result = record.parsed_result()
        value = getattr(result.latency_ms, name) if result else None
        return millis(value)

    columns: list[Column[CandidateRecord]] = [
        Column("#", lambda record: str(record.index), "right"),
        Column("Candidate", lambda record: record.candidate.label),
        Column("Status", lambda record: record.status),
        Column(f"{percentile.upper()} ms", lambda record: measured(record, percentile), "right"),
        Column("avg ms", lambda record: measured(record, "avg"), "right"),
        Column("Benchmark $", lambda record: money(record.benchmark_cost_usd), "right"),
        Column("Error", lambda record: record.error or ""),
    ]
    console.print(rich_table(columns, view.candidates, title="Candidates"))
    answer = run.parsed_recommendation()
    if answer is not None:
        # The candidates table above already lists failed and skipped candidates.
        print_recommendation(answer, console, with_failures=False)
    for regression in run.regressions or []:
        console.print(f"[yellow]regression[/] {regression.get('message', '')}", highlight=False)
    if run.benchmark_cost_usd is not None:
        console.print(f"The benchmark cost {money(run.benchmark_cost_usd)}.", highlight=False)


@app.command()
def report(
    target: Annotated[
        str, typer.Argument(metavar="RUN_ID|RESULTS.json", help="A stored run id, or a results file.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.", dir_okay=False)],
    prices: PricesOption = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="Prices' region for a results file; the stack's region for a run id."),
    ] = None,
    slo: Annotated[
        str | None, typer.Option(help="SLO as PERCENTILE:MS for a results file (overrides the file's).")
    ] = None,
    table: TableOption = None,
    stack: StackOption = None,
    endpoint_url: EndpointUrlOption = None,
) -> None:
    """Write the HTML report of a stored run, or of a results file, to one self-contained file."""
    from infercost.report.html import render_report
    from infercost.report.inputs import ReportInput

    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: no directory {out.parent}", field="--out")

    if target.endswith(".json") or Path(target).is_file():
        from infercost.domain.models import ResultsFile, Slo, load_json_file, parse_model
        from infercost.domain.recommend import DEFAULT_REGION
        from infercost.domain.recommend import recommend as run_recommend

        results = parse_model(ResultsFile, load_json_file(Path(target)))
        book = _price_book(region or results.region or DEFAULT_REGION, prices, False)
        answer = run_recommend(results, book, slo=Slo.parse(slo) if slo else None)
        document = render_report(ReportInput.from_results(results, answer))
    else:
        from infercost.data.history import find_run, run_regressions

        store, table_name = _open_store(table, stack, region, endpoint_url)
        view = find_run(store, target, table_name=table_name)
        document = render_report(ReportInput.from_run(view, run_regressions(store, view.run)))
    try:
        out.write_text(document, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {out}: {error.strerror}", field="--out") from None
    # soft_wrap: a path broken over two lines cannot be copied.
    _stderr().print(
        f"wrote {out} ({len(document.encode('utf-8')) / 1024:,.0f} KB)", highlight=False, soft_wrap=True
    )


@app.command()
def loadtest(
    payload: Annotated[
        Path,
        typer.Option("--payload", help="File whose bytes are sent as every request body.", dir_okay=False),
    ],
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="SageMaker endpoint name (InvokeEndpoint).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="Container URL, e.g. http://127.0.0.1:8080 (POST /invocations)."),
    ] = None,
    content_type: Annotated[str, typer.Option("--content-type", help="Content-Type of the payload.")] = (
        "application/json"
    ),
    warmup: Annotated[int, typer.Option(help="Warm-up requests, discarded.")] = 100,
    requests: Annotated[int, typer.Option(help="Measured requests, one in flight.")] = 1000,
    concurrency: Annotated[
        str, typer.Option(help="Concurrency levels, e.g. 1,2,4,8 (levels above 1 form the sweep).")
    ] = "1",
    requests_per_level: Annotated[
        int | None, typer.Option(help="Requests at each sweep level (default: --requests).")
    ] = None,
    slo: Annotated[
        str | None, typer.Option(help="SLO as PERCENTILE:MS, e.g. p90:80; the sweep stops past it.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds before a request counts as timed out.")] = 60.0,
    time_budget: Annotated[
        float | None, typer.Option(help="Stop after this many seconds and mark the result partial.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Processes driving the sweep levels.", min=1, max=64)] = 1,
    instance_type: Annotated[
        str | None, typer.Option(help="Instance type measured (names the candidate in JSON output).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model name for JSON output.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Measure an endpoint: warm-up, serial latency percentiles, concurrency sweep, max RPS at the SLO.

    Latency is client-side (it includes the network and the SDK); errors are counted by kind.
    """
    from infercost.domain.errors import InputError
    from infercost.domain.models import Candidate, LoadPlan, Slo, parse_model
    from infercost.measurement.http import http_transport
    from infercost.measurement.loadtest import run_load_test
    from infercost.measurement.results import results_document
    from infercost.measurement.targets import endpoint_transport

    if (endpoint is None) == (url is None):
        raise InputError("give exactly one of --endpoint NAME or --url URL", field="--endpoint/--url")
    if output is OutputFormat.json and instance_type is None:
        raise InputError(
            "JSON output is a results file, which names the candidate",
            field="--instance-type",
            hint="e.g. --instance-type ml.c7g.large",
        )
    candidate = (
        parse_model(Candidate, {"instance_type": instance_type}, prefix="--instance-type")
        if instance_type
        else None
    )
    try:
        body = payload.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {payload}: {error.strerror or error}", field="--payload") from None
    try:
        levels = [int(part) for part in concurrency.split(",") if part.strip()]
    except ValueError:
        raise InputError(
            f"expected numbers such as 1,2,4,8, got {concurrency!r}", field="--concurrency"
        ) from None
    plan = parse_model(
        LoadPlan,
        {
            "warmup": warmup,
            "requests": requests,
            "concurrency": levels,
            "requests_per_level": requests_per_level,
            "request_timeout_s": timeout,
        },
    )
    chosen_slo = Slo.parse(slo) if slo else None
    transport = (
        http_transport(url, content_type, timeout_s=timeout)
        if url is not None
        else endpoint_transport(str(endpoint), content_type, timeout_s=timeout)
    )
    try:
        with _LoadProgress() as progress:
            result = run_load_test(
                transport,
                body,
                plan,
                slo=chosen_slo,
                progress=progress,
                time_budget_s=time_budget,
                workers=workers,
            )
    finally:
        transport.close()
    if output is OutputFormat.json:
        assert candidate is not None
        _print_json(results_document(result, model=model or endpoint or "model", candidate=candidate))
    else:
        print_load_test(result, transport.description, _stdout())


class _LoadProgress:
    """A Rich progress bar on stderr, one line per phase and level."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_stderr(),
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
    console.print(rich_table(columns, result.levels, title=f"Client-side latency (ms) of {target}"))
    if result.slo is not None:
        best = "none" if result.max_rps_at_slo is None else f"{result.max_rps_at_slo:.1f} req/s"
        console.print(f"Max throughput meeting {result.slo.describe()}: [bold]{best}[/]", highlight=False)
    for note in result.notes:
        console.print(f"[yellow]note[/]: {note}", highlight=False)
    if result.partial:
        console.print("[yellow]partial[/]: the run stopped before its plan was complete", highlight=False)


@app.command()
def demo(
    candidates: Annotated[
        int,
        typer.Option(
            help="How many of the demo's fixed candidate list to evaluate (1-20): a small CPU, a large "
            "CPU, a GPU, serverless, then Inferentia, more GPUs and CPUs."
        ),
    ] = DEMO_DEFAULT_CANDIDATES,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for the HTML report and the results file.")
    ] = Path("infercost-demo"),
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout; progress goes to stderr.")
    ] = False,
    fail_at: Annotated[
        str | None,
        typer.Option(
            "--fail-at",
            metavar="POINT",
            help="Inject one fault for the first candidate (or the run): " + ", ".join(FAULT_POINTS) + ".",
        ),
    ] = None,
    keep_running: Annotated[
        bool,
        typer.Option(
            "--keep-running",
            help="Keep the local stack up after the run (until Ctrl-C) and say how to explore it.",
        ),
    ] = False,
) -> None:
    """Run the whole evaluation on an embedded local AWS stack (no AWS account needed).

    Uploads a model and its spec to a local S3 bucket; EventBridge starts the real state machine,
    which creates an endpoint per candidate (a local model server with a simulated speed), drives
    load at it, reads CloudWatch, tears it down, recommends, reports and notifies. Exit 0 when the
    run succeeded and nothing is left running, 1 otherwise.
    """
    from infercost.local.demo import (
        KEEP_RUNNING_MAX_S,
        DemoOptions,
        DemoOutcome,
        DemoSession,
        wait_until_interrupted,
    )
    from infercost.local.demo_view import DemoView, consoles, print_explore, print_outcome

    options = DemoOptions(candidates=candidates, out=out, fail_at=fail_at, keep_running=keep_running)
    session = DemoSession(options)
    view_console, result_console = consoles(json_output)

    def show(outcome: DemoOutcome) -> None:
        if json_output:
            _print_json(outcome.to_json())
        else:
            print_outcome(outcome, result_console)

    try:
        with session:
            with DemoView(view_console) as view:
                outcome = session.run(view.update)
            show(outcome)
            if keep_running:
                print_explore(
                    session.explore_commands(outcome.run_id),
                    outcome.endpoint_url,
                    view_console if json_output else result_console,
                    int(KEEP_RUNNING_MAX_S // 60),
                )
                wait_until_interrupted()
    except KeyboardInterrupt:
        _stderr().print("interrupted: the local stack and its model servers are stopped")
        raise typer.Exit(130) from None
    raise typer.Exit(outcome.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: an InfercostError is one line on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="infercost")
    except InfercostError as error:
        sys.stderr.write(f"error: {error.one_line()}\n")
        raise SystemExit(EXIT_INVALID_INPUT) from None


if __name__ == "__main__":
    main()
