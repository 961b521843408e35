"""`infercost traffic import`: an endpoint's production traffic from CloudWatch, as a spec's `traffic`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from infercost.cli.app import app, stderr_console, stdout_console
from infercost.cli.history import EndpointUrlOption
from infercost.domain.traffic import MAX_HISTORY_DAYS

traffic_app = typer.Typer(
    help="Production traffic for the monthly projection: read it from an endpoint's history.",
    no_args_is_help=True,
)
app.add_typer(traffic_app, name="traffic")


@traffic_app.command("import")
def traffic_import(
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="The SageMaker endpoint whose traffic to read.")
    ],
    variant: Annotated[str, typer.Option("--variant", help="Its production variant.")] = "AllTraffic",
    days: Annotated[
        int,
        typer.Option(
            "--days",
            help=f"Days of history, 1 to {MAX_HISTORY_DAYS}; 7 or more give a week curve, fewer a day curve.",
        ),
    ] = 14,
    region: Annotated[str | None, typer.Option("--region", help="The endpoint's region.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help='Write {"traffic": …} here (default: stdout, the summary on stderr).',
            dir_okay=False,
        ),
    ] = None,
    request_kb: Annotated[
        float, typer.Option("--request-kb", help="Average request size, for serverless data charges.", min=0)
    ] = 0.0,
    response_kb: Annotated[float, typer.Option("--response-kb", help="Average response size.", min=0)] = 0.0,
    endpoint_url: EndpointUrlOption = None,
) -> None:
    """Read an endpoint's hourly Invocations from CloudWatch and write them as a traffic curve.

    The output is a spec fragment, {"traffic": {"hourly_rps": [...], ...}}: put its "traffic" into
    infercost.json (or give the spec {"traffic": {"endpoint": NAME}} and the deployed stack reads
    the history itself at the start of each run).
    """
    from botocore.exceptions import NoRegionError

    from infercost.data.clients import new_client
    from infercost.data.traffic import read_traffic
    from infercost.domain.errors import InputError
    from infercost.report.traffic import summary_lines

    try:
        cloudwatch = new_client("cloudwatch", region=region, endpoint_url=endpoint_url)
    except NoRegionError:
        raise InputError(
            "no AWS region is configured", field="--region", hint="give the endpoint's region, e.g. us-east-1"
        ) from None
    profile = read_traffic(
        cloudwatch,
        endpoint,
        variant=variant,
        days=days,
        request_kb=request_kb,
        response_kb=response_kb,
    )
    # The curve alone: volume and peak follow from it, and a spec may not give the peak beside it.
    written = profile.model_dump(
        mode="json", exclude_defaults=True, exclude={"peak_rps", "requests_per_month"}
    )
    document = json.dumps({"traffic": written}, indent=2)
    console = stdout_console() if out is not None else stderr_console()
    for line in summary_lines(profile):
        console.print(line, highlight=False)
    if out is None:
        typer.echo(document)
    else:
        out.write_text(document + "\n", encoding="utf-8")
        console.print(f"wrote {out}", highlight=False)
