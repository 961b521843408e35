"""`infercost loadtest --stream --prompts FILE`: streamed generations measured in tokens."""

from __future__ import annotations

from pathlib import Path

from infercost.domain.errors import InputError


def run_token_loadtest(
    *,
    url: str | None,
    endpoint: str | None,
    prompts: Path,
    max_new_tokens: int,
    tokenizer: str,
    warmup: int,
    requests: int,
    concurrency: str,
    requests_per_level: int | None,
    slo: str | None,
    timeout: float,
    time_budget: float | None,
    json_as: tuple[str, str] | None = None,
) -> None:
    """Send the prompts in turn to a streaming URL or endpoint; print TTFT, ITL and token goodput.

    `--slo` takes token SLOs (ttft:p90:500,itl:p90:50,e2e:p99:4000); the sweep stops at the first
    level that misses one, or that adds under 5 % token goodput (past saturation). `json_as`
    (model, instance type) prints a results file instead, its candidate carrying `llm`."""
    from infercost.cli.app import stdout_console
    from infercost.domain.models import LoadPlan, parse_model
    from infercost.domain.tokens import builtin_tokenizer, is_builtin, tokenizer_from_json
    from infercost.domain.workload import LlmWorkload, TokenSlo, parse_prompts
    from infercost.measurement.llm import LlmHttpTransport, LlmSageMakerTransport, Prompts
    from infercost.measurement.loadtest import run_load_test
    from infercost.report.console import LoadProgressBar, print_load_test

    slos = TokenSlo.parse_list(slo) if slo else []
    workload = parse_model(
        LlmWorkload,
        {"prompts": str(prompts), "max_new_tokens": max_new_tokens, "tokenizer": tokenizer, "slo": slos},
        prefix="workload",
    )
    try:
        texts = parse_prompts(prompts.read_bytes(), str(prompts))
        counter = (
            builtin_tokenizer(tokenizer)
            if is_builtin(tokenizer)
            else tokenizer_from_json(tokenizer, Path(tokenizer).read_bytes())
        )
    except OSError as error:
        raise InputError(
            f"cannot read {error.filename}: {error.strerror}", field="--prompts/--tokenizer"
        ) from None
    plan = LoadPlan.from_options(warmup, requests, concurrency, requests_per_level, timeout)
    bodies = Prompts.of(workload, texts, counter)
    transport = (
        LlmHttpTransport(url, bodies, timeout_s=timeout)
        if url is not None
        else LlmSageMakerTransport(str(endpoint), bodies, timeout_s=timeout)
    )
    try:
        with LoadProgressBar() as progress:
            result = run_load_test(transport, b"", plan, progress=progress, time_budget_s=time_budget)
    finally:
        transport.close()
    if json_as is not None:
        from infercost.cli.app import print_json
        from infercost.domain.models import Candidate
        from infercost.measurement.llm import llm_stats
        from infercost.measurement.results import results_document

        candidate = parse_model(Candidate, {"instance_type": json_as[1]}, prefix="--instance-type")
        document = results_document(result, model=json_as[0], candidate=candidate)
        stats = llm_stats(result, max_error_rate=plan.max_error_rate)
        if stats is not None:
            document["results"][0]["llm"] = stats.model_dump(mode="json")
        print_json(document)
        return
    console = stdout_console()
    print_load_test(result, transport.description, console)
    for item in slos:
        console.print(f"Token SLO: {item.describe()}", highlight=False)
