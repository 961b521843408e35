"""What `infercost demo` shows: a live view of the run, then the outcome.

On a terminal the view is a Rich live table, redrawn at each look at the run (no refresh thread:
it would take the GIL from the load generator and model servers at random moments). Elsewhere —
piped, captured, in CI — it prints one line per change instead, which reads well in a log.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from infercost.domain.formatting import millis, money
from infercost.domain.models import SIMULATED_HARDWARE
from infercost.local.demo_outcome import DemoOutcome
from infercost.local.demo_progress import CandidateProgress, DemoProgress
from infercost.report.tables import Column, rich_table

if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.table import Table

_STATE_STYLE = {
    "waiting": "dim",
    "creating endpoint": "yellow",
    "in service": "cyan",
    "loading": "blue",
    "collecting metrics": "magenta",
    "tearing down": "yellow",
    "torn down": "green",
    "endpoint failed": "red",
    "failed": "bold red",
    "skipped": "yellow",
}
_BAR_WIDTH = 16
_DETAIL_CHARS = 90


def consoles(json_output: bool) -> tuple[Console, Console]:
    """(view console, result console): the final text goes to stdout, the view where it fits.

    Bound to the streams as they are now: while the local stack runs, stdout is a proxy that
    routes each handler's output to its log group, and it is not a terminal.
    """
    from rich.console import Console

    result = Console(file=sys.stdout, soft_wrap=False)
    if not result.is_terminal:
        # Piped or captured: wide enough that table cells do not fold mid-word.
        result.width = 200
    if json_output or not result.is_terminal:
        view = Console(file=sys.stderr)
        if not view.is_terminal:
            view.width = 200
        return view, result
    return result, result


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _bar(item: CandidateProgress) -> str:
    if not item.planned:
        return ""
    done = min(item.answered, item.planned)
    filled = round(_BAR_WIDTH * done / item.planned)
    return "█" * filled + "░" * (_BAR_WIDTH - filled) + f" {item.answered}/{item.planned}"


def _state(item: CandidateProgress) -> str:
    return f"[{_STATE_STYLE[item.state]}]{item.state}[/]"


def _detail(item: CandidateProgress) -> str:
    text = item.detail if len(item.detail) <= _DETAIL_CHARS else item.detail[: _DETAIL_CHARS - 1] + "…"
    return _escape(text)


PROGRESS_COLUMNS: list[Column[CandidateProgress]] = [
    Column("#", lambda item: str(item.index), "right"),
    Column("Candidate", lambda item: item.label),
    Column("State", _state),
    Column("Requests answered", _bar),
    Column("Detail", _detail),
]


def progress_table(progress: DemoProgress) -> Table:
    """The candidates and where each one is."""
    return rich_table(PROGRESS_COLUMNS, progress.candidates)


def progress_view(progress: DemoProgress) -> Group:
    """The live frame: the run and its phase, how it started, the candidates, the simulation note."""
    from rich.console import Group
    from rich.text import Text

    run = f"run {progress.run_id}" if progress.run_id else "starting"
    return Group(
        Text(f"infercost demo · {run} · {progress.phase} · {progress.elapsed_s:.1f} s", style="bold"),
        Text(progress.started_by, style="dim"),
        progress_table(progress),
        Text(SIMULATED_HARDWARE, style="dim"),
    )


class DemoView:
    """Shows each `DemoProgress`: live on a terminal, one line per change elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live: Any = None
        self._seen: dict[int, tuple[str, str]] = {}
        self._phase = ""

    def __enter__(self) -> DemoView:
        if self.console.is_terminal:
            from rich.live import Live

            self.live = Live(
                console=self.console,
                auto_refresh=False,
                transient=False,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Leave the last frame on screen and stop drawing."""
        if self.live is not None:
            self.live.stop()
            self.live = None

    def update(self, progress: DemoProgress) -> None:
        if self.live is not None:
            self.live.update(progress_view(progress), refresh=True)
            return
        stamp = f"{progress.elapsed_s:6.1f}s"
        if not self._phase and progress.started_by:
            self.console.print(f"{stamp}  {progress.started_by}", highlight=False)
        if progress.phase != self._phase:
            self._phase = progress.phase
            self.console.print(f"{stamp}  run {progress.run_id}: {progress.phase}", highlight=False)
        for item in progress.candidates:
            seen = (item.state, item.detail)
            if self._seen.get(item.index) == seen:
                continue
            self._seen[item.index] = seen
            line = f"{stamp}  #{item.index} {item.label}: {_state(item)}"
            if item.state in ("collecting metrics", "tearing down", "torn down") and item.answered:
                line += f" ({item.answered} requests answered)"
            if item.detail:
                line += f" — {_detail(item)}"
            self.console.print(line, highlight=False)


OUTCOME_COLUMNS: list[Column[Any]] = [
    Column("#", lambda item: str(item.index), "right"),
    Column("Candidate", lambda item: item.label),
    Column("Status", lambda item: item.status),
    Column("P90 ms", lambda item: millis((item.latency_ms or {}).get("p90")), "right"),
    Column("avg ms", lambda item: millis((item.latency_ms or {}).get("avg")), "right"),
    Column("$/100k", lambda item: money(item.cost_per_100k_usd), "right"),
    Column("Error", lambda item: _escape(item.error or "")),
]


def print_outcome(outcome: DemoOutcome, console: Console) -> None:
    """The ranked table and the recommendation, then where everything went and what is left."""
    from infercost.report.console import print_recommendation

    console.print()
    if outcome.recommendation is not None:
        print_recommendation(outcome.recommendation, console)
    else:
        console.print(rich_table(OUTCOME_COLUMNS, outcome.candidates, title=f"{outcome.model}: candidates"))
    verdict = "[bold green]SUCCEEDED[/]" if outcome.status == "SUCCEEDED" else "[bold red]FAILED[/]"
    console.print(
        f"\nRun {outcome.run_id} {verdict} in {outcome.run_seconds:.1f} s "
        f"(the whole demo {outcome.wall_seconds:.1f} s)"
        + (f", with the fault '{outcome.fail_at}' injected" if outcome.fail_at else "")
        + ".",
        highlight=False,
    )
    if outcome.error:
        console.print(f"[red]error:[/] {_escape(outcome.error)}", highlight=False)
    if outcome.report:
        console.print(f"Report:  {outcome.report}  [dim]({_escape(outcome.report_source or '')})[/]")
    if outcome.results:
        # Another way to read the same measurements: a looser SLO, or (tokens) cost per request.
        streamed = any(candidate.ttft_ms for candidate in outcome.candidates)
        other = "--objective per-inference" if streamed else "--slo p90:50"
        console.print(
            f"Results: {outcome.results}  [dim](try: infercost recommend {outcome.results} {other})[/]",
            highlight=False,
        )
    kinds = ", ".join(f"{count} {kind}" for kind, count in outcome.dynamodb["items_by_kind"].items())
    console.print(
        f"DynamoDB: {outcome.dynamodb['items']} items written to table {outcome.dynamodb['table']} ({kinds}).",
        highlight=False,
    )
    notes = outcome.notifications
    subjects = "; ".join(f"“{subject}”" for subject in notes["sns_subjects"])
    console.print(
        f"Notifications: {notes['sns']} on SNS"
        + (f" ({_escape(subjects)})" if subjects else "")
        + f", {notes['slack']} to Slack (the local webhook receiver).",
        highlight=False,
    )
    if outcome.janitor_deleted:
        console.print(
            "Scheduled janitor, once the endpoint stuck in Creating had settled: deleted "
            + ", ".join(outcome.janitor_deleted)
            + ".",
            highlight=False,
        )
    left = outcome.left_running
    counts = (
        f"{len(left['endpoint_configs'])} endpoint configs, {len(left['models'])} models, "
        f"{len(left['model_servers'])} model servers"
    )
    if outcome.nothing_left:
        console.print(f"[bold green]0 endpoints left running[/] ({counts}; counted by listing them).")
    else:
        names = ", ".join(name for names in left.values() for name in names)
        console.print(
            f"[bold red]{outcome.endpoints_left} endpoints left running[/] ({counts}): {_escape(names)}"
        )
    console.print(f"[yellow]Simulated:[/] {outcome.simulated}", highlight=False)


def print_explore(commands: list[str], endpoint_url: str | None, console: Console, max_minutes: int) -> None:
    """How to look around the stack that --keep-running keeps up."""
    console.print(
        f"\nThe local stack keeps running at {endpoint_url} until you press Ctrl-C "
        f"(at most {max_minutes} minutes). From another terminal:",
        highlight=False,
        soft_wrap=True,
    )
    for command in commands:
        console.print(f"  {command}", highlight=False, soft_wrap=True)
