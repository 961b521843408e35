"""Wall time and peak memory of the whole evaluation workflow on the embedded local stack.

    .venv/bin/python benchmarks/workflow_scale.py [--candidates 3,10,20] [--runs 3]

Each run is a fresh process running this script's own driver (`--one N`), which does what the
demo and the integration tests do — start `EmbeddedStack`, upload an artifact with an
N-candidate spec, wait for the execution the upload starts — with the same small load for every
size and MaxConcurrency (the demo's own load, with its sweep, would make the rows incomparable). Waits are zero (the stack's FAST_TIMING), loads are small (2 warm-up + 20 measured
requests, no sweep), and the Map runs `--max-concurrency` candidates at once. Reported: the
workflow's wall time (upload to finished execution), the whole process's wall time, and the
process's peak resident memory (`ru_maxrss` from wait4).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from _common import (
    argument_parser,
    command_line,
    describe_machine,
    load_average,
    machine,
    publish,
    show,
    spread,
    table,
)

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311"
LOAD = {"warmup": 2, "requests": 20, "concurrency": [1]}
# Twenty distinct configurations from the price snapshot, CPU first, then accelerated.
INSTANCE_TYPES = [
    "ml.c5.large",
    "ml.c5.xlarge",
    "ml.c6i.large",
    "ml.c7g.large",
    "ml.m5.large",
    "ml.m6i.large",
    "ml.g5.xlarge",
    "ml.inf2.xlarge",
    "ml.g4dn.xlarge",
    "ml.g6.xlarge",
    "ml.c5.2xlarge",
    "ml.c6i.xlarge",
    "ml.c7g.xlarge",
    "ml.m5.xlarge",
    "ml.m6i.xlarge",
    "ml.c6i.2xlarge",
    "ml.c7g.2xlarge",
    "ml.m5.2xlarge",
    "ml.g5.2xlarge",
    "ml.g6.2xlarge",
]


def spec(count: int) -> dict[str, Any]:
    from infercost.local.model_server import sample_payload

    return {
        "model": {"name": f"scale{count}", "image_uri": IMAGE},
        "payload": {"content_type": "application/json", "body": sample_payload().decode()},
        "candidates": [{"instance_type": name} for name in INSTANCE_TYPES[:count]],
        "slo": {"percentile": "p90", "max_latency_ms": 200},
        "load": LOAD,
    }


def run_one(count: int, max_concurrency: int) -> dict[str, Any]:
    """Drive the workflow once for `count` candidates in this process (the `--one` mode)."""
    import logging
    import warnings

    from infercost.local.stack import EmbeddedStack

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    with EmbeddedStack(timing={"max_concurrency": max_concurrency}) as stack:
        ready = time.perf_counter()
        (execution,) = stack.evaluate(f"models/scale{count}/model.tar.gz", spec=spec(count), timeout_s=900)
        finished = time.perf_counter()
        view = stack.store.get_run_by_key(stack.store.history(f"scale{count}")[0].key)
        statuses = [candidate.status for candidate in view.candidates] if view else []
        left = stack.leftovers()
    return {
        "status": execution["status"],
        "candidates_completed": statuses.count("COMPLETED"),
        "wall_seconds": finished - ready,
        "stack_start_seconds": ready - started,
        "leftovers": sum(len(v) for v in left.values()),
    }


def child(command: list[str]) -> tuple[dict[str, Any], float, float]:
    """Run one workflow process: (its JSON, process wall seconds, peak RSS MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {process.returncode}: {output[-1000:]}")
    return json.loads(output), wall, usage.ru_maxrss / 1024


def measure(
    counts: list[int], runs: int, max_concurrency: int, sweep: list[int], sweep_candidates: int
) -> dict[str, Any]:
    plan: list[tuple[int, int, int]] = []
    for run in range(runs):
        # Rotate the order so that no size always runs first (cold file caches) or last.
        order = counts[run % len(counts) :] + counts[: run % len(counts)]
        plan.extend((run, count, max_concurrency) for count in order)
    # One run each at other MaxConcurrency values: how much of the growth does the Map's
    # concurrency explain?
    plan.extend((0, sweep_candidates, level) for level in sweep if level != max_concurrency)
    results: list[dict[str, Any]] = []
    for run, count, concurrency in plan:
        command = [sys.executable, __file__, "--one", str(count), "--max-concurrency", str(concurrency)]
        document, process_wall, rss_mib = child(command)
        entry = {
            "run": run,
            "candidates": count,
            "max_concurrency": concurrency,
            # The run alone, without starting the stack.
            "wall_seconds": float(document["wall_seconds"]),
            "process_seconds": process_wall,
            "max_rss_mib": rss_mib,
            "status": document.get("status"),
            "completed": document.get("candidates_completed"),
            "leftovers": document.get("leftovers"),
        }
        print(
            f"run {run} candidates {count:>2} MaxConcurrency {concurrency:>2}: "
            f"workflow {entry['wall_seconds']:.1f} s, process {process_wall:.1f} s, "
            f"max RSS {rss_mib:.0f} MiB, {entry['status']}",
            file=sys.stderr,
        )
        results.append(entry)
    return {"driver": "benchmarks/workflow_scale.py --one N", "runs": results}


def summarize(results: list[dict[str, Any]], keys: list[tuple[int, int]]) -> list[dict[str, Any]]:
    rows = []
    for count, concurrency in keys:
        mine = [r for r in results if r["candidates"] == count and r["max_concurrency"] == concurrency]
        rows.append(
            {
                "candidates": count,
                "max_concurrency": concurrency,
                "wall_seconds": spread([r["wall_seconds"] for r in mine]),
                "per_candidate_seconds": spread([r["wall_seconds"] / count for r in mine]),
                "process_seconds": spread([r["process_seconds"] for r in mine]),
                "max_rss_mib": spread([r["max_rss_mib"] for r in mine]),
                "all_succeeded": all(
                    r["status"] == "SUCCEEDED" and r["completed"] in (None, count) and not r["leftovers"]
                    for r in mine
                ),
            }
        )
    return rows


def markdown(data: dict[str, Any]) -> str:
    rows = data["summary"]
    first = rows[0]
    body = table(
        [
            "candidates",
            "workflow wall time (s)",
            "÷ candidates (s)",
            f"growth vs {first['candidates']} (median)",
            "process wall time (s)",
            "peak RSS (MiB)",
            "every run succeeded, nothing left",
        ],
        [
            [
                row["candidates"],
                show(row["wall_seconds"], "{:.1f}"),
                show(row["per_candidate_seconds"], "{:.2f}"),
                f"{row['wall_seconds']['median'] / first['wall_seconds']['median']:.2f}× for "
                f"{row['candidates'] / first['candidates']:.2f}× the candidates",
                show(row["process_seconds"], "{:.1f}"),
                show(row["max_rss_mib"]),
                "yes" if row["all_succeeded"] else "**no**",
            ]
            for row in rows
        ],
    )
    sweep = data["sweep_summary"]
    sweep_table = table(
        ["candidates", "MaxConcurrency", "workflow wall time (s)", "peak RSS (MiB)", "runs"],
        [
            [
                row["candidates"],
                row["max_concurrency"],
                show(row["wall_seconds"], "{:.1f}"),
                show(row["max_rss_mib"]),
                int(row["wall_seconds"]["n"]),
            ]
            for row in sweep
        ],
    )
    return (
        f"Command: `{data['command']}` (driver: `{data['driver']}`)  \n"
        f"Machine: {describe_machine(data['machine'], load_after=data['load_after'])}.  \n"
        f"{data['runs_per_size']} runs per size, each a fresh process, sizes interleaved; cells are "
        f"min / median / max. Map MaxConcurrency {data['max_concurrency']}, zero waits, "
        f"{LOAD['warmup']} warm-up + {LOAD['requests']} measured requests per candidate.\n\n"
        f"{body}\n\n"
        f"The same workflow for {data['sweep_candidates']} candidates at other MaxConcurrency values "
        "(the row at the default comes from the runs above):\n\n"
        f"{sweep_table}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--candidates", default="3,10,20")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-concurrency", type=int, default=4)
    parser.add_argument("--sweep", default="1,10", help="other MaxConcurrency values, one run each")
    parser.add_argument("--sweep-candidates", type=int, default=10)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(run_one(args.one, args.max_concurrency)))
        return 0
    counts = [int(part) for part in args.candidates.split(",")]
    sweep = [int(part) for part in args.sweep.split(",") if part.strip()]
    sizes = [*counts, args.sweep_candidates]
    if not 1 <= args.runs <= 10 or not all(1 <= c <= len(INSTANCE_TYPES) for c in sizes):
        parser.error(f"--runs must be 1..10 and each candidate count 1..{len(INSTANCE_TYPES)}")
    info = machine()
    measured = measure(counts, args.runs, args.max_concurrency, sweep, args.sweep_candidates)
    levels = sorted({*sweep, args.max_concurrency})
    data = {
        "command": command_line(),
        "machine": info,
        "load_after": load_average(),
        "runs_per_size": args.runs,
        "max_concurrency": args.max_concurrency,
        "sweep_candidates": args.sweep_candidates,
        **measured,
        "summary": summarize(measured["runs"], [(count, args.max_concurrency) for count in counts]),
        "sweep_summary": summarize(
            measured["runs"],
            [
                (args.sweep_candidates, level)
                for level in levels
                if any(
                    r["candidates"] == args.sweep_candidates and r["max_concurrency"] == level
                    for r in measured["runs"]
                )
            ],
        ),
    }
    publish("workflow_scale", data, markdown, section="workflow_scale", no_doc=args.no_doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
