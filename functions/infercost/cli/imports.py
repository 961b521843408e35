"""`infercost import`: another tool's measurements as an infercost results file, to cost and rank."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from infercost.cli.app import app, print_json, stderr_console
from infercost.domain.errors import InputError


class Tool(StrEnum):
    aiperf = "aiperf"
    genai_perf = "genai-perf"
    guidellm = "guidellm"


@app.command("import")
def import_results(
    export: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="The tool's export: AIPerf's (or GenAI-Perf's) profile export JSON."
        ),
    ],
    tool: Annotated[
        Tool,
        typer.Option(
            "--from", help="The tool that wrote FILE: aiperf (profile_export_aiperf.json) or genai-perf."
        ),
    ],
    instance_type: Annotated[
        str,
        typer.Option("--instance-type", help="The SageMaker instance type it measured, e.g. ml.g5.2xlarge."),
    ],
    instance_count: Annotated[
        int, typer.Option("--instance-count", help="Instances behind the endpoint.", min=1)
    ] = 1,
    model: Annotated[
        str | None, typer.Option("--model", help="Model name (default: the one the export names).")
    ] = None,
    slo: Annotated[
        str | None,
        typer.Option("--slo", help="SLO to store with the results, as PERCENTILE:MS (e.g. p90:2000)."),
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region whose prices apply.")] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write a new results file here (default: stdout).", dir_okay=False),
    ] = None,
    benchmark: Annotated[
        int | None,
        typer.Option(
            "--benchmark", help="GuideLLM: which benchmark of the report (0-based), when it has several."
        ),
    ] = None,
    append: Annotated[
        Path | None,
        typer.Option(
            "--append",
            help="Add the result to this results file (written back, or to --out).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Turn another benchmark tool's export into infercost's results format (infercost.results/v1).

    Its measurements then get infercost's costing, ranking, report and history: `infercost
    recommend results.json`. One export is one candidate; --append collects several.
    """
    from infercost.domain import guidellm_results
    from infercost.domain.models import Candidate, Slo, load_json_file, parse_model
    from infercost.domain.peer_results import from_aiperf, model_name
    from infercost.domain.results import RESULTS_SCHEMA, ResultsFile

    try:
        candidate = parse_model(Candidate, {"instance_type": instance_type, "instance_count": instance_count})
    except InputError as error:
        option = "--instance-count" if "instance_count" in (error.field or "") else "--instance-type"
        raise InputError(error.message, field=option, hint=error.hint or "e.g. ml.g5.2xlarge") from None
    data = load_json_file(export)
    if tool is Tool.guidellm:
        result = guidellm_results.from_guidellm(data, candidate=candidate, benchmark=benchmark)
        named = model or guidellm_results.model_name(data, benchmark)
    else:
        result = from_aiperf(data, candidate=candidate)
        named = model or (model_name(data) if isinstance(data, dict) else None)
    results: dict[str, Any]
    if append is not None:
        existing = parse_model(ResultsFile, load_json_file(append), prefix=str(append))
        if named is not None and named != existing.model:
            raise InputError(
                f"{append} holds results of {existing.model}, not {named}",
                field="--model",
                hint=f"give --model {existing.model} if it is the same model, or write a new file with --out",
            )
        results = existing.to_json()
        results["results"] = [*results["results"], result.model_dump(mode="json")]
    else:
        if named is None:
            raise InputError("the export does not name its model", field="--model", hint="give --model NAME")
        results = {"schema": RESULTS_SCHEMA, "model": named, "results": [result.model_dump(mode="json")]}
    if slo is not None:
        results["slo"] = Slo.parse(slo).model_dump(mode="json")
    if region is not None:
        results["region"] = region
    checked = parse_model(ResultsFile, results).to_json()
    target = out or append
    if target is None:
        print_json(checked)
        return
    target.write_text(json.dumps(checked, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    stderr_console().print(
        f"{'added' if append is not None and target == append else 'wrote'} {candidate.label} "
        f"({result.imported_from}) to {target}: {len(checked['results'])} result(s) of {checked['model']}",
        highlight=False,
    )
