"""`infercost loadtest` against wrk, on the same local model server, in the same run.

    .venv/bin/python benchmarks/loadgen_vs_wrk.py [--rounds 5] [--seconds 3]

Starts the project's model server (`python -m infercost.local.model_server`) in its own process
on 127.0.0.1 (pinned to CPU 0; each client runs on CPU 1), once with the no-op profile and once
with a fixed 1 ms delay. Each round measures,
at concurrency 1, 8 and 32, wrk (one thread, a Lua script POSTing the same JSON body) and
`infercost loadtest --url` (one event loop), alternating which goes first. `infercost` sends as
many requests as wrk completed in `--seconds` in the same round, so both run for about as long.
Throughput is successful responses per second of the measured phase; the client overhead at
concurrency 1 is the client's p50 minus the server's own p50 (`GET /stats` on the model server,
reset before each measurement). Installs wrk from Debian when it is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
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
from infercost.local.model_server import sample_payload

GOAL_RATIO = 0.5
GOAL_OVERHEAD_MS = 0.5
WARMUP = 200
INFERCOST = str(Path(sys.executable).with_name("infercost"))
# With two cores, the server gets one and the client under test the other: otherwise where the
# scheduler puts the two processes (together or apart) decides the throughput more than the tool.
SERVER_CPU: int | None = 0 if (os.cpu_count() or 1) >= 2 else None
CLIENT_CPU: int | None = 1 if (os.cpu_count() or 1) >= 2 else None
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ensure_wrk() -> str:
    """wrk's path, installing the Debian package when it is missing (needs root and apt)."""
    found = shutil.which("wrk")
    if found:
        return found
    if shutil.which("apt-get") and os.geteuid() == 0:
        print("installing wrk (apt-get install -y wrk)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if not found:
            subprocess.run(["apt-get", "update", "-q"], check=False, stdout=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)
            found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: run `apt-get install -y wrk` (Debian) and try again")
    return found


@contextlib.contextmanager
def model_server(profile: str, lifetime_s: float) -> Iterator[str]:
    """The model server in its own process; yields its URL, stops it on the way out."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "infercost.local.model_server",
            "--profile",
            profile,
            "--lifetime",
            f"{lifetime_s:.0f}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(SERVER_CPU),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        url = process.stdout.readline().strip() if ready else ""
        if not url.startswith("http://127.0.0.1:"):
            raise SystemExit(f"the model server ({profile}) did not announce its URL: {url!r}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def pinned(cpu: int | None) -> Callable[[], None] | None:
    """A preexec function that keeps the child on one CPU (None: leave it to the scheduler)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def server_stats(url: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/stats", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


def server_p50_ms(url: str) -> float:
    latency = server_stats(url)["model_latency_ms"]
    if not latency:
        raise SystemExit(f"the model server at {url} recorded no successful request")
    return float(latency["p50"])


def wrk_script(body: Path, directory: Path) -> Path:
    script = directory / "post.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local f = assert(io.open("{body}", "rb"))\n'
        "wrk.body = f:read('*a')\n"
        "f:close()\n",
        encoding="utf-8",
    )
    return script


def parse_wrk(output: str) -> tuple[float, float]:
    """(requests/s, p50 ms) from wrk's --latency report."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", output)
    if not rate or not p50:
        raise SystemExit(f"cannot read wrk's report:\n{output}")
    if errors:
        raise SystemExit(f"wrk saw errors: {errors.group(0)}")
    return float(rate.group(1)), float(p50.group(1)) * _UNITS_MS[p50.group(2)]


def run_wrk(wrk: str, url: str, concurrency: int, seconds: float, script: Path) -> dict[str, float]:
    server_stats(url, "DELETE")
    done = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds:g}s",
            "--latency",
            "-s",
            str(script),
            f"{url}/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
        preexec_fn=pinned(CLIENT_CPU),
    )
    rps, p50 = parse_wrk(done.stdout)
    return {"rps": rps, "p50_ms": p50, "server_p50_ms": server_p50_ms(url)}


def run_infercost(url: str, concurrency: int, requests: int, body: Path) -> dict[str, float]:
    """One `infercost loadtest`: the serial run at concurrency 1, a sweep level otherwise."""
    if concurrency == 1:
        load = ["--warmup", str(WARMUP), "--requests", str(requests), "--concurrency", "1"]
    else:
        load = [
            "--warmup",
            str(WARMUP),
            "--requests",
            "50",
            "--concurrency",
            f"1,{concurrency}",
            "--requests-per-level",
            str(requests),
        ]
    server_stats(url, "DELETE")
    done = subprocess.run(
        [
            INFERCOST,
            "loadtest",
            "--url",
            url,
            "--payload",
            str(body),
            *load,
            "--format",
            "json",
            "--instance-type",
            "ml.c5.large",
            "--time-budget",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=360,
        preexec_fn=pinned(CLIENT_CPU),
    )
    if done.returncode != 0:
        raise SystemExit(f"infercost loadtest failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout)["loadtest"]
    level = result["measured"] if concurrency == 1 else result["sweep"][0]
    if level["concurrency"] != concurrency or level["errors_by_kind"]:
        raise SystemExit(f"unexpected level from infercost loadtest: {json.dumps(level)[:500]}")
    return {
        "rps": float(level["rps"]),
        "p50_ms": float(level["latency_ms"]["p50"]),
        "server_p50_ms": server_p50_ms(url),
        "requests": float(level["requests"]),
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    wrk = ensure_wrk()
    levels = [int(level) for level in args.concurrency.split(",")]
    profiles = args.profiles.split(",")
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as servers:
        body = Path(folder) / "body.json"
        body.write_bytes(sample_payload())
        script = wrk_script(body, Path(folder))
        lifetime = 60 + args.rounds * len(profiles) * len(levels) * (2 * args.seconds + 10)
        urls = {profile: servers.enter_context(model_server(profile, lifetime)) for profile in profiles}
        last_rate: dict[tuple[str, int], float] = {}
        for round_index in range(args.rounds):
            for profile in profiles:
                for level_index, concurrency in enumerate(levels):
                    key = (profile, concurrency)
                    wrk_first = key not in last_rate or (round_index + level_index) % 2 == 0
                    entry: dict[str, Any] = {"round": round_index, "profile": profile}
                    entry["concurrency"] = concurrency
                    entry["order"] = "wrk first" if wrk_first else "infercost first"
                    for tool in ("wrk", "infercost") if wrk_first else ("infercost", "wrk"):
                        if tool == "wrk":
                            entry["wrk"] = run_wrk(wrk, urls[profile], concurrency, args.seconds, script)
                            last_rate[key] = entry["wrk"]["rps"]
                        else:
                            count = int(min(max(last_rate[key] * args.seconds, 300), 300_000))
                            entry["infercost"] = run_infercost(urls[profile], concurrency, count, body)
                    entry["ratio"] = entry["infercost"]["rps"] / entry["wrk"]["rps"]
                    print(
                        f"round {round_index} {profile:>8} c={concurrency:<3} "
                        f"wrk {entry['wrk']['rps']:8.0f}/s  infercost {entry['infercost']['rps']:8.0f}/s  "
                        f"ratio {entry['ratio']:.2f}",
                        file=sys.stderr,
                    )
                    runs.append(entry)
    return {"runs": runs, "levels": levels, "profiles": profiles}


def summarize(runs: list[dict[str, Any]], profiles: list[str], levels: list[int]) -> list[dict[str, Any]]:
    rows = []
    for profile in profiles:
        for concurrency in levels:
            mine = [r for r in runs if r["profile"] == profile and r["concurrency"] == concurrency]
            row: dict[str, Any] = {
                "profile": profile,
                "concurrency": concurrency,
                "wrk_rps": spread([r["wrk"]["rps"] for r in mine]),
                "infercost_rps": spread([r["infercost"]["rps"] for r in mine]),
                "ratio": spread([r["ratio"] for r in mine]),
            }
            if concurrency == 1:
                row["infercost_overhead_ms"] = spread(
                    [r["infercost"]["p50_ms"] - r["infercost"]["server_p50_ms"] for r in mine]
                )
                row["wrk_overhead_ms"] = spread(
                    [r["wrk"]["p50_ms"] - r["wrk"]["server_p50_ms"] for r in mine]
                )
            rows.append(row)
    return rows


def markdown(data: dict[str, Any]) -> str:
    rows = data["summary"]
    throughput = table(
        [
            "server profile",
            "concurrency",
            "wrk req/s",
            "infercost req/s",
            "infercost ÷ wrk (same round)",
            "goal ≥ 0.5 (median)",
        ],
        [
            [
                f"`{row['profile']}`",
                row["concurrency"],
                show(row["wrk_rps"]),
                show(row["infercost_rps"]),
                show(row["ratio"], "{:.2f}"),
                "met" if row["ratio"]["median"] >= GOAL_RATIO else "**missed**",
            ]
            for row in rows
        ],
    )
    overhead = table(
        [
            "server profile",
            "infercost p50 − server p50 (ms)",
            "wrk p50 − server p50 (ms)",
            "goal ≤ 0.5 ms (median)",
        ],
        [
            [
                f"`{row['profile']}`",
                show(row["infercost_overhead_ms"], "{:.3f}"),
                show(row["wrk_overhead_ms"], "{:.3f}"),
                "met" if row["infercost_overhead_ms"]["median"] <= GOAL_OVERHEAD_MS else "**missed**",
            ]
            for row in rows
            if row["concurrency"] == 1
        ],
    )
    return (
        f"Command: `{data['command']}`  \n"
        f"Machine: {describe_machine(data['machine'], load_after=data['load_after'])}.  \n"
        f"{data['rounds']} rounds, interleaved (the tool that goes first alternates); "
        f"each cell is min / median / max over the rounds; wrk runs {data['seconds']:g} s per "
        "measurement with one thread, `infercost loadtest` sends the number of requests wrk "
        "completed in that time. "
        f"{'The model server runs on CPU 0 and the client under test on CPU 1. ' if data.get('pinned') else ''}"
        "\n\n"
        f"{throughput}\n\n"
        "Client overhead at concurrency 1 (the serial measured run), client p50 minus the model "
        "server's own p50 over the same requests:\n\n"
        f"{overhead}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="wrk's duration per measurement")
    parser.add_argument("--profiles", default="noop,fixed:1")
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20 or not 0.5 <= args.seconds <= 30:
        parser.error("--rounds must be 1..20 and --seconds 0.5..30")
    info = machine()
    started = time.monotonic()
    measured = measure(args)
    data = {
        "command": command_line(),
        "machine": info,
        "load_after": load_average(),
        "elapsed_s": round(time.monotonic() - started, 1),
        "rounds": args.rounds,
        "seconds": args.seconds,
        "pinned": SERVER_CPU is not None,
        **measured,
        "summary": summarize(measured["runs"], measured["profiles"], measured["levels"]),
    }
    publish("loadgen_vs_wrk", data, markdown, section="loadgen", no_doc=args.no_doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
