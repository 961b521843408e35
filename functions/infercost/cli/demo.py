"""`infercost demo`: the whole product on the embedded local stack."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infercost.local.faults import FAULT_POINTS

if TYPE_CHECKING:
    pass
from infercost.cli.app import app, print_json, stderr_console

# infercost.local.demo.DEFAULT_CANDIDATES, not imported: the demo's modules load when it runs.
DEMO_DEFAULT_CANDIDATES = 4


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
    workload: Annotated[
        str,
        typer.Option(
            "--workload",
            help="classic (a small MLP, one payload) or llm (streamed generations: time to first "
            "token, inter-token latency, tokens/s and cost per million tokens).",
        ),
    ] = "classic",
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
        DEMO_MODEL,
        KEEP_RUNNING_MAX_S,
        DemoOptions,
        DemoSession,
        wait_until_interrupted,
    )
    from infercost.local.demo_llm import LLM_DEMO_MODEL
    from infercost.local.demo_outcome import DemoOutcome
    from infercost.local.demo_view import DemoView, consoles, print_explore, print_outcome

    options = DemoOptions(
        candidates=candidates,
        out=out,
        fail_at=fail_at,
        keep_running=keep_running,
        workload=workload,
        model=LLM_DEMO_MODEL if workload == "llm" else DEMO_MODEL,
    )
    session = DemoSession(options)
    view_console, result_console = consoles(json_output)

    def show(outcome: DemoOutcome) -> None:
        if json_output:
            print_json(outcome.to_json())
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
        stderr_console().print("interrupted: the local stack and its model servers are stopped")
        raise typer.Exit(130) from None
    raise typer.Exit(outcome.exit_code)
