"""`infercost history`, `show` and `report`: runs stored in the results table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infercost.domain.errors import InputError

if TYPE_CHECKING:
    from infercost.data.store import ResultsStore
    from infercost.domain.records import CandidateRecord, RunRecord
    from infercost.domain.results import RankedCandidate
from infercost.cli.app import (
    OutputFormat,
    PricesOption,
    app,
    price_book,
    print_json,
    stderr_console,
    stdout_console,
)
from infercost.report.console import print_recommendation

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


def open_results(
    table: str | None, stack: str | None, region: str | None, endpoint_url: str | None
) -> tuple[ResultsStore, str]:
    from infercost.data.history import open_store

    return open_store(table=table, stack=stack, region=region, endpoint_url=endpoint_url)


def when(timestamp: str | None) -> str:
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

    store, table_name = open_results(table, stack, region, endpoint_url)
    runs = model_history(store, model, limit, table_name=table_name)
    if output is OutputFormat.json:
        print_json([run.model_dump(mode="json", exclude_none=True) for run in runs])
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
        Column("Started (UTC)", lambda run: when(run.started_at)),
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
    if any((best := winner(run)) is not None and best.llm is not None for run in runs):
        # Streamed (LLM) runs: what a million output tokens cost on the recommendation.
        columns.insert(
            7,
            Column(
                "$/1M out tok",
                lambda run: money(best.cost_per_1m_output_tokens_usd) if (best := winner(run)) else "—",
                "right",
            ),
        )
    stdout_console().print(
        rich_table(columns, runs, title=f"{model}: {len(runs)} newest runs in {table_name}")
    )


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

    store, table_name = open_results(table, stack, region, endpoint_url)
    view = find_run(store, run_id, table_name=table_name)
    if output is OutputFormat.json:
        print_json(view.model_dump(mode="json", exclude_none=True))
        return
    run = view.run
    console = stdout_console()
    console.print(
        f"[bold]{run.model}[/] run {run.run_id}: {run.status}, {when(run.started_at)} → "
        f"{when(run.finished_at)}" + (f", {run.region}" if run.region else ""),
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
        # The image it ran, repository and tag (the registry is the same for most).
        Column("Image", lambda record: (record.image_uri or "").split("/", 1)[-1]),
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
        from infercost.domain.models import Slo, load_json_file, parse_model
        from infercost.domain.recommend import DEFAULT_REGION
        from infercost.domain.recommend import recommend as run_recommend
        from infercost.domain.results import ResultsFile

        results = parse_model(ResultsFile, load_json_file(Path(target)))
        book = price_book(region or results.region or DEFAULT_REGION, prices, False)
        answer = run_recommend(results, book, slo=Slo.parse(slo) if slo else None)
        document = render_report(ReportInput.from_results(results, answer))
    else:
        from infercost.data.history import find_run, run_regressions

        store, table_name = open_results(table, stack, region, endpoint_url)
        view = find_run(store, target, table_name=table_name)
        document = render_report(ReportInput.from_run(view, run_regressions(store, view.run)))
    try:
        out.write_text(document, encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot write {out}: {error.strerror}", field="--out") from None
    # soft_wrap: a path broken over two lines cannot be copied.
    stderr_console().print(
        f"wrote {out} ({len(document.encode('utf-8')) / 1024:,.0f} KB)", highlight=False, soft_wrap=True
    )
