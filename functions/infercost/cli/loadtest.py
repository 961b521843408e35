"""`infercost loadtest`: drive load at a URL or an endpoint and print what it measured."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infercost.domain.errors import InputError

if TYPE_CHECKING:
    pass
from infercost.cli.app import OutputFormat, app, print_json, stdout_console
from infercost.report.console import LoadProgressBar, print_load_test


@app.command()
def loadtest(
    payload: Annotated[
        Path | None,
        typer.Option("--payload", help="File whose bytes are sent as every request body.", dir_okay=False),
    ] = None,
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
    stream: Annotated[
        bool,
        typer.Option(
            "--stream",
            help="Read the answers as they stream: with --endpoint, InvokeEndpointWithResponseStream "
            "(each level's time to the first payload part); with --prompts (and --url or --endpoint), "
            "time to first token, inter-token latency and token goodput.",
        ),
    ] = False,
    prompts: Annotated[
        Path | None,
        typer.Option(
            "--prompts",
            help="With --stream: a JSONL file of prompts, sent in turn as {inputs, parameters}; each "
            "answer is counted in tokens (time to first token, inter-token latency, tokens/s).",
            dir_okay=False,
        ),
    ] = None,
    max_new_tokens: Annotated[int, typer.Option(help="With --prompts: tokens to generate.")] = 64,
    tokenizer: Annotated[
        str, typer.Option(help="With --prompts: whitespace, bytes, or a tokenizer.json file.")
    ] = "whitespace",
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

    Latency is client-side (it includes the network); errors are counted by kind. --endpoint
    sends SigV4-signed InvokeEndpoint requests with the standard AWS settings (credentials,
    AWS_REGION, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME). A level whose client ran out of CPU is
    marked saturated: it measured this machine, not the endpoint (add --workers).
    """
    from infercost.domain.models import Candidate, LoadPlan, Slo, parse_model
    from infercost.measurement.http import http_transport
    from infercost.measurement.loadtest import run_load_test
    from infercost.measurement.results import results_document
    from infercost.measurement.sagemaker import sagemaker_transport
    from infercost.measurement.targets import endpoint_transport

    if (endpoint is None) == (url is None):
        raise InputError("give exactly one of --endpoint NAME or --url URL", field="--endpoint/--url")
    if prompts is not None and not stream:
        raise InputError("--prompts measures streamed generations: add --stream", field="--prompts")
    if stream and endpoint is None and prompts is None:
        raise InputError(
            "--stream with --url reads a streamed text answer: give --prompts FILE (JSONL)",
            field="--prompts",
        )
    if output is OutputFormat.json and instance_type is None:
        raise InputError(
            "JSON output is a results file, which names the candidate",
            field="--instance-type",
            hint="e.g. --instance-type ml.c7g.large",
        )
    if prompts is not None:
        from infercost.cli.loadtest_llm import run_token_loadtest

        run_token_loadtest(
            json_as=(model or endpoint or "model", str(instance_type))
            if output is OutputFormat.json
            else None,
            url=url,
            endpoint=endpoint,
            prompts=prompts,
            max_new_tokens=max_new_tokens,
            tokenizer=tokenizer,
            warmup=warmup,
            requests=requests,
            concurrency=concurrency,
            requests_per_level=requests_per_level,
            slo=slo,
            timeout=timeout,
            time_budget=time_budget,
        )
        return
    if payload is None:
        raise InputError("give the request body to send", field="--payload")
    candidate = (
        parse_model(Candidate, {"instance_type": instance_type}, prefix="--instance-type")
        if instance_type
        else None
    )
    try:
        body = payload.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read {payload}: {error.strerror or error}", field="--payload") from None
    plan = LoadPlan.from_options(warmup, requests, concurrency, requests_per_level, timeout)
    chosen_slo = Slo.parse(slo) if slo else None
    transport = (
        http_transport(url, content_type, timeout_s=timeout)
        if url is not None
        else sagemaker_transport(str(endpoint), content_type, timeout_s=timeout, stream=True)
        if stream
        else endpoint_transport(str(endpoint), content_type, timeout_s=timeout)
    )
    try:
        with LoadProgressBar() as progress:
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
        print_json(results_document(result, model=model or endpoint or "model", candidate=candidate))
    else:
        print_load_test(result, transport.description, stdout_console())
