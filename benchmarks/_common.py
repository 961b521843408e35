"""What every benchmark script shares: the machine, spreads over repeated runs, and the report.

Each script writes its raw figures to `benchmarks/results/<name>.json` and its table to the
section of `docs/benchmarks.md` between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->`, so
`benchmarks/run.sh` rewrites the figures and leaves the prose around them alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "benchmarks.md"


def cpu_model() -> str:
    """The CPU model as /proc/cpuinfo names it ('unknown' elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return round(one, 2), round(five, 2), round(fifteen, 2)


def machine() -> dict[str, Any]:
    """Where and when a figure was measured: cores, CPU, Python, date, load average."""
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": load_average(),
    }


def describe_machine(info: dict[str, Any], *, load_after: Sequence[float] | None = None) -> str:
    """One line for the report: '2 cores (AMD EPYC), Python 3.11.7, 2026-… UTC, load 0.5 / …'."""
    load = " / ".join(f"{x:.2f}" for x in info["load_average"])
    text = (
        f"{info['cores']} cores ({info['cpu']}), Python {info['python']}, {info['date']}, "
        f"load average (1/5/15 min) {load} at the start"
    )
    if load_after is not None:
        text += ", " + " / ".join(f"{x:.2f}" for x in load_after) + " at the end"
    return text


def spread(values: Sequence[float]) -> dict[str, float]:
    """min, median and max of repeated measurements (and how many there were)."""
    if not values:
        raise ValueError("no measurements")
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "n": len(values),
    }


def show(summary: dict[str, float], fmt: str = "{:.0f}") -> str:
    """'min / median / max' with the given number format."""
    return " / ".join(fmt.format(summary[key]) for key in ("min", "median", "max"))


def save_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_section(name: str, markdown: str, doc: Path = DOC) -> None:
    """Replace the text between the section's markers in docs/benchmarks.md."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    text = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{doc}: no section {start} … {end} to rewrite")
    replacement = f"{start}\n{markdown.strip()}\n{end}"
    doc.write_text(pattern.sub(lambda _: replacement, text, count=1), encoding="utf-8")


def argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """A script's parser: its docstring as help, and `--no-doc` to print without rewriting the doc."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-doc", action="store_true", help="print, do not rewrite docs/benchmarks.md")
    return parser


def publish(
    name: str, data: dict[str, Any], render: Callable[[dict[str, Any]], str], *, section: str, no_doc: bool
) -> None:
    """Save the raw figures as results/<name>.json, print the section and (unless `no_doc`) write it."""
    save_json(name, data)
    text = render(data)
    print(text)
    if not no_doc:
        write_section(section, text)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    """How this script was run, relative to the repository (for 'the command that produced it')."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(ROOT))
    except ValueError:
        shown = str(script)
    return " ".join([".venv/bin/python", shown, *sys.argv[1:]])


def measured_with_context(measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`measure()`'s figures with what every section states: the command, the machine and its
    load before and after, and the wall time."""
    import time

    info = machine()
    started = time.monotonic()
    figures = measure()
    return {
        "command": command_line(),
        "machine": info,
        "load_after": load_average(),
        "elapsed_s": round(time.monotonic() - started, 1),
        **figures,
    }
