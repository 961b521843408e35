"""The `infercost` command: its app, the options several commands share, and how they print."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infercost.domain.errors import InfercostError

if TYPE_CHECKING:
    from rich.console import Console

    from infercost.data.pricing.book import PriceBook


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


def stdout_console() -> Console:
    from rich.console import Console

    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped or captured output: wide enough that table cells do not fold mid-word.
        console.width = 200
    return console


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def price_book(region: str, prices: Path | None, live: bool) -> PriceBook:
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


def run(argv: list[str] | None = None) -> None:
    """Run the app: an InfercostError is one line on stderr and exit code 2."""
    try:
        app(args=argv, prog_name="infercost")
    except InfercostError as error:
        sys.stderr.write(f"error: {error.one_line()}\n")
        raise SystemExit(EXIT_INVALID_INPUT) from None
