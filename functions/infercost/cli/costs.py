"""`infercost recommend`, `prices`, `spec` and `plan`: costs and specs, offline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infercost.domain.errors import InfercostError, InputError
from infercost.domain.hardware import EXAMPLE_IMAGES

if TYPE_CHECKING:
    from infercost.domain.traffic import Objective, TrafficProfile
from infercost.cli.app import (
    OutputFormat,
    PricesOption,
    RegionOption,
    TableFormat,
    app,
    price_book,
    print_json,
    spec_app,
    stdout_console,
)
from infercost.report.console import print_recommendation, render_markdown


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
    objective: Annotated[
        str | None,
        typer.Option(
            help="What to minimise: monthly (the traffic's month, every serving mode; default with a "
            "traffic profile), per-inference (cost per 100k, one request in flight; default without), "
            "throughput (cost per 100k at the highest load within the SLO; needs a sweep), or "
            "per-token (cost per 1M output tokens; default for streamed LLM results without traffic).",
        ),
    ] = None,
    traffic: Annotated[
        Path | None,
        typer.Option(
            metavar="TRAFFIC.json",
            help="A traffic profile (requests_per_month + peak_rps, or hourly_rps), e.g. from "
            "`infercost traffic import`; overrides the file's traffic.",
        ),
    ] = None,
    serving: Annotated[
        Path | None,
        typer.Option(
            metavar="SERVING.json",
            help="How it will be served: mode realtime|async|batch, autoscaling, models_per_endpoint… "
            "(the spec's `serving`); overrides the file's.",
        ),
    ] = None,
    emit: Annotated[
        str | None,
        typer.Option(
            help="Print what to deploy instead of the table: 'cloudformation' (the scaling policy or "
            "endpoint config of the chosen serving mode, as a JSON template)."
        ),
    ] = None,
) -> None:
    """Cost each measured candidate and recommend the one to use, under an objective.

    Cost per 100k inferences = hourly price ÷ 3600 × average latency (s) × 100,000; where the
    results carry max_rps_at_slo (a concurrency sweep) the cost at sustained throughput is
    ranked too. With a traffic profile the default objective is the month: autoscaling is
    simulated on the hourly curve, serverless, async, batch and several models per endpoint are
    priced, with Savings Plans (docs/method.md §7). Prices come from the results file, then
    --prices, then the bundled snapshot.
    """
    from infercost.domain.models import Slo, load_json_file, parse_model
    from infercost.domain.recommend import DEFAULT_REGION
    from infercost.domain.recommend import recommend as run_recommend
    from infercost.domain.results import ResultsFile
    from infercost.domain.traffic import ServingSpec

    results = parse_model(ResultsFile, load_json_file(results_file))
    chosen_slo = Slo.parse(slo) if slo else None
    book = price_book(region or results.region or DEFAULT_REGION, prices, live_prices)
    answer = run_recommend(
        results,
        book,
        slo=chosen_slo,
        max_error_rate=max_error_rate,
        objective=_objective(objective),
        traffic=_traffic_file(traffic) if traffic else None,
        serving=parse_model(ServingSpec, load_json_file(serving), prefix="--serving") if serving else None,
    )
    if emit is not None:
        if emit != "cloudformation":
            raise InputError(f"unknown --emit {emit!r}", field="--emit", hint="use --emit cloudformation")
        from infercost.report.cloudformation import template

        print_json(template(answer))
    elif output is TableFormat.json:
        print_json(answer.to_json())
    elif output is TableFormat.markdown:
        sys.stdout.write(render_markdown(answer))
    else:
        print_recommendation(answer, stdout_console())


def _objective(text: str | None) -> Objective | None:
    from infercost.domain.traffic import OBJECTIVES

    if text is None:
        return None
    for objective in OBJECTIVES:
        if text.strip().lower() == objective:
            return objective
    raise InputError(f"unknown objective {text!r}", field="--objective", hint="use " + ", ".join(OBJECTIVES))


def _traffic_file(path: Path) -> TrafficProfile:
    """A traffic profile file: the bare profile, or an object with a `traffic` key (a spec, an import)."""
    from infercost.domain.models import load_json_file, parse_model
    from infercost.domain.traffic import TrafficProfile

    data = load_json_file(path)
    if isinstance(data, dict) and isinstance(data.get("traffic"), dict):
        return parse_model(TrafficProfile, data["traffic"], prefix="traffic")
    return parse_model(TrafficProfile, data, prefix="--traffic")


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
    savings_plans: Annotated[
        bool,
        typer.Option(
            "--savings-plans",
            help="Also show each instance type's SageMaker Savings Plans rates and break-even utilisation.",
        ),
    ] = False,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Show on-demand hourly prices of SageMaker hosting instances, accelerators and serverless."""
    from infercost.domain.formatting import ESTIMATE_FOOTNOTE, estimated, unit_price
    from infercost.domain.price_basis import is_estimate
    from infercost.report.tables import Column, rich_table

    book = price_book(region, overrides, live)
    rows = book.rows(family)
    plans = plan_rows(book, rows) if savings_plans else []
    if output is OutputFormat.json:
        document: dict[str, Any] = {
            "region": region,
            "snapshot_as_of": book.snapshot_as_of,
            "prices": [row.to_json() for row in rows],
        }
        if savings_plans:
            document["savings_plans"] = plans
        print_json(document)
        return
    columns: list[Column[Any]] = [
        Column("Kind", lambda row: row.kind),
        Column("Name", lambda row: row.name),
        Column("USD", lambda row: estimated(unit_price(row.usd), is_estimate(row.basis)), "right"),
        Column("Unit", lambda row: row.unit),
        Column("Basis", lambda row: row.basis),
        Column("Source", lambda row: row.source),
    ]
    console = stdout_console()
    console.print(rich_table(columns, rows, title=f"SageMaker hosting prices in {region}"))
    if any(is_estimate(row.basis) for row in rows):
        console.print(f"[dim]{ESTIMATE_FOOTNOTE}[/]", highlight=False)
    if savings_plans:
        print_plan_rows(plans, region, console)
    console.print(f"[dim]Snapshot as of {book.snapshot_as_of}.[/]")


def plan_rows(book: Any, rows: list[Any]) -> list[dict[str, Any]]:
    """Each instance row's Savings Plans rates, with what they save and their break-even utilisation."""
    from infercost.domain.models import Candidate
    from infercost.domain.savings_plans import break_even_utilisation, discount_percent, plan_label

    found: list[dict[str, Any]] = []
    for row in rows:
        if row.kind != "instance":
            continue
        for rate in book.savings_plan_rates(Candidate(instance_type=row.name)):
            # The plan discounts the list price, before any discount an overrides file gives.
            on_demand = row.usd / (1 - row.discount_percent / 100)
            found.append(
                {
                    "name": row.name,
                    "plan": plan_label(rate),
                    "term_years": rate.term_years,
                    "payment": rate.payment,
                    "usd_per_hour": rate.usd_per_hour,
                    "on_demand_usd_per_hour": on_demand,
                    "discount_percent": discount_percent(rate.usd_per_hour, on_demand),
                    "break_even_utilisation": break_even_utilisation(rate.usd_per_hour, on_demand),
                    "basis": rate.basis,
                    "source": rate.source,
                    "as_of": rate.as_of,
                }
            )
    return found


def print_plan_rows(plans: list[dict[str, Any]], region: str, console: Any) -> None:
    from infercost.domain.formatting import estimated, unit_price, usd
    from infercost.domain.price_basis import is_estimate
    from infercost.report.tables import Column, rich_table

    def bound(plan: dict[str, Any], sign: str) -> str:
        # A snapshot rate rests on AWS's "up to" figure: a bound, not a rate.
        return f"{sign} " if plan["source"] == "snapshot" else ""

    if not plans:
        console.print("No Savings Plans rates for these types.", highlight=False)
        return
    columns: list[Column[Any]] = [
        Column("Name", lambda plan: plan["name"]),
        Column("Plan", lambda plan: plan["plan"]),
        Column(
            "USD/hour", lambda plan: estimated(usd(plan["usd_per_hour"]), is_estimate(plan["basis"])), "right"
        ),
        Column("On demand", lambda plan: unit_price(plan["on_demand_usd_per_hour"]), "right"),
        Column("Saves", lambda plan: f"{bound(plan, '≤')}{plan['discount_percent']:.0f}%", "right"),
        Column(
            "Break-even",
            lambda plan: f"{bound(plan, '≥')}{plan['break_even_utilisation']:.0%} of hours",
            "right",
        ),
        Column("Basis", lambda plan: plan["basis"]),
        Column("Source", lambda plan: "live Savings Plans API" if plan["source"] == "live" else "snapshot"),
    ]
    console.print(rich_table(columns, plans, title=f"SageMaker Savings Plans in {region}"))
    console.print(
        "[dim]A plan bills its rate for every hour of its term, run or not: it costs less than on "
        "demand only when the instance runs more than the break-even share of the hours.[/]",
        highlight=False,
    )
    if any(plan["source"] == "snapshot" for plan in plans):
        console.print(
            "[dim]≈ snapshot rates: AWS publishes only 'up to 64%' off for SageMaker Savings Plans, "
            "taken as the 3-year all-upfront discount of every family — an upper bound, so these are "
            "the least a plan could cost (≤ and ≥ mark bounds); --live asks the Savings Plans API for "
            "every plan's rate (docs/pricing.md).[/]",
            highlight=False,
        )


EXAMPLE_SPEC: dict[str, Any] = {
    "model": {
        "name": "densenet121",
        # One image per hardware kind the candidates use (infercost/domain/hardware.py).
        "images": dict(EXAMPLE_IMAGES),
        "execution_role_arn": None,
        "environment": {},
    },
    "payload": {"content_type": "application/x-image", "s3_key": "models/densenet121/sample.jpg"},
    "candidates": [
        {"instance_type": "ml.c7g.large"},
        {"instance_type": "ml.c6i.xlarge"},
        {"instance_type": "ml.g5.xlarge", "instance_count": 1},
        # Inferentia runs a model compiled for Neuron: its own artifact beside the upload.
        {
            "instance_type": "ml.inf2.xlarge",
            "container": {"model_data_key": "models/densenet121/model-neuronx.tar.gz"},
        },
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
    print_json(EXAMPLE_SPEC)


@spec_app.command("validate")
def spec_validate(
    spec_file: Annotated[Path, typer.Argument(metavar="FILE", help="An infercost.json evaluation spec.")],
    region: Annotated[
        str, typer.Option(help="Region whose price list the candidates must be in.")
    ] = "us-east-1",
) -> None:
    """Check a spec: every field, every candidate known and priced in the region, and each
    candidate's image against its hardware (offline, from Deep Learning Container names: an image
    that cannot run there is refused, one that wastes the accelerator is warned about). Exit 2 if
    the spec cannot run; `infercost doctor` checks the rest against your account."""
    from infercost.domain.models import EvaluationSpec, load_json_file, parse_model

    spec = parse_model(EvaluationSpec, load_json_file(spec_file))
    findings = spec.image_findings()
    refused = [finding for finding in findings if finding.level == "error"]
    if refused:
        raise InputError(refused[0].message, field=refused[0].path)
    book = price_book(region, None, False)
    for index, candidate in enumerate(spec.candidates):
        try:
            book.check_candidate(candidate)
        except InfercostError as error:
            field = f"candidates[{index}].{error.field}" if error.field else f"candidates[{index}]"
            raise type(error)(error.message, field=field, hint=error.hint) from None
    console = stdout_console()
    console.print(
        f"[green]valid[/]: model {spec.model.name}, {len(spec.candidates)} candidates, "
        f"SLO {spec.slo.describe()}, {spec.load.warmup} warm-up + {spec.load.requests} measured requests"
        + (f", concurrency sweep {spec.load.concurrency}" if spec.load.sweeps else ""),
        highlight=False,
    )
    for finding in findings:
        console.print(f"[yellow]warning[/]: {finding.line()}", highlight=False)


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
    from infercost.domain.formatting import ESTIMATE_FOOTNOTE, estimated, minutes, money
    from infercost.domain.models import EvaluationSpec, load_json_file, parse_model
    from infercost.domain.planning import check_budget, plan_run
    from infercost.domain.price_basis import is_estimate
    from infercost.report.tables import Column, rich_table

    spec = parse_model(EvaluationSpec, load_json_file(spec_file))
    estimate = plan_run(
        spec,
        price_book(region, prices, False),
        max_concurrency=max_concurrency,
        metrics_delay_s=metrics_delay,
    )
    if output is OutputFormat.json:
        print_json(estimate.model_dump(mode="json"))
    else:
        console = stdout_console()
        columns: list[Column[Any]] = [
            Column("Candidate", lambda item: item.label),
            Column(
                "$/hour",
                lambda item: estimated(
                    money(item.price_per_hour_usd) if item.price_per_hour_usd else "per use",
                    is_estimate(item.price_basis),
                ),
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
        if any(is_estimate(item.price_basis) for item in estimate.candidates):
            console.print(f"[dim]{ESTIMATE_FOOTNOTE}[/]", highlight=False)
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
