"""`infercost doctor`: check the account and the deployed stack before the first run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from infercost.cli.app import OutputFormat, app, print_json, stdout_console
from infercost.cli.history import EndpointUrlOption, StoreRegionOption

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.console import Console

    from infercost.domain.doctor import Check

EXIT_BLOCKED = 1
_MARKS = {"ok": "[green]✔[/]", "fail": "[bold red]✖[/]", "warn": "[yellow]![/]", "skip": "[dim]–[/]"}


def print_checklist(checks: Sequence[Check], console: Console, *, title: str) -> None:
    """One line per check (✔ ✖ ! –), the fix under each one that has it, then the tally.

    Details are ARNs and JSON paths: no Rich markup, no emoji codes (`:secret:` in an ARN).
    """
    from rich.markup import escape

    from infercost.domain.doctor import blockers, summary

    console.print(f"[bold]{escape(title)}[/]", highlight=False, emoji=False)
    for check in checks:
        text = f"[bold]{escape(check.name)}[/]: {escape(check.detail)}"
        console.print(
            f"{_MARKS[check.status]} " + (f"[dim]{text}[/]" if check.status == "skip" else text),
            highlight=False,
            emoji=False,
        )
        if check.fix:
            colour = "red" if check.status == "fail" else "yellow"
            console.print(f"    [{colour}]→ {escape(check.fix)}[/]", highlight=False, emoji=False)
    verdict = "[bold red]blocked[/]" if blockers(checks) else "[bold green]ready[/]"
    console.print(f"{verdict}: {summary(checks)}", highlight=False, emoji=False)


@app.command()
def doctor(
    spec_file: Annotated[
        Path | None,
        typer.Argument(metavar="[SPEC]", help="The infercost.json to check against the account (optional)."),
    ] = None,
    stack: Annotated[str, typer.Option("--stack", help="The deployed infercost stack's name.")] = "infercost",
    region: StoreRegionOption = None,
    artifact: Annotated[
        str | None,
        typer.Option(
            "--artifact",
            metavar="KEY",
            help="The model artifact's key the spec goes with (default: models/<model name>/model.tar.gz).",
        ),
    ] = None,
    endpoint_url: EndpointUrlOption = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.table,
) -> None:
    """Check the account before a run creates any endpoint: the stack and its outputs, the bucket's
    events, each function's role (IAM policy simulation of the calls it makes), and with a SPEC the
    endpoint quotas, each image's platforms against its instance, and the objects the run reads;
    also the Price List API and the Slack secret. Credentials come from the standard chain.

    A checklist, ✔ or ✖ with the fix under each ✖ (! is a warning, – skipped). Exit 1 when any
    check is a blocker, 0 otherwise; 2 when the SPEC cannot be read.
    """
    from infercost.data import doctor as checks_module
    from infercost.domain.doctor import blockers
    from infercost.domain.models import EvaluationSpec, load_json_file, parse_model

    spec = parse_model(EvaluationSpec, load_json_file(spec_file)) if spec_file is not None else None
    clients = checks_module.client_factory(region, endpoint_url or None)
    checks = checks_module.diagnose(
        clients, stack_name=stack, spec=spec, artifact_key=artifact, region=region
    )
    if output is OutputFormat.json:
        print_json(
            {
                "stack": stack,
                "spec": str(spec_file) if spec_file is not None else None,
                "ready": not blockers(checks),
                "checks": [check.to_json() for check in checks],
            }
        )
    else:
        where = f" in {region}" if region else ""
        subject = f" for {spec_file}" if spec_file is not None else ""
        print_checklist(checks, stdout_console(), title=f"infercost doctor: stack {stack}{where}{subject}")
    if blockers(checks):
        raise typer.Exit(EXIT_BLOCKED)
