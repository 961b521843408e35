"""The `infercost` command line: recommend and price from results, plan and validate specs, read the
history, load-test an endpoint, and run the whole product locally (`infercost demo`)."""

from __future__ import annotations

COMMAND_MODULES = ("costs", "imports", "traffic", "history", "doctor", "loadtest", "demo")


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: an InfercostError is one line on stderr and exit code 2."""
    import importlib

    from infercost.cli.app import run

    # Each module registers its commands on the app; in this order they appear in --help.
    for module in COMMAND_MODULES:
        importlib.import_module(f"infercost.cli.{module}")
    run(argv)
