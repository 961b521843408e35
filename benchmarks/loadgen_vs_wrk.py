"""`infercost loadtest` against wrk, on the same local model server, in the same run, over both
load paths: direct HTTP (`--url`, the local stack's) and InvokeEndpoint (`--endpoint`, AWS's).

    .venv/bin/python benchmarks/loadgen_vs_wrk.py [--rounds 3] [--seconds 3]

Starts the project's model server (`python -m infercost.local.model_server`) in its own process
on 127.0.0.1 (pinned to CPU 0; each client runs on CPU 1), once with the no-op profile and once
with a fixed 1 ms delay. Each round measures,
at concurrency 1, 8 and 32, wrk (one thread, a Lua script POSTing the same JSON body) and
`infercost loadtest --url` (one event loop), alternating which goes first. `infercost` sends as
many requests as wrk completed in `--seconds` in the same round, so both run for about as long.
Throughput is successful responses per second of the measured phase; the client overhead at
concurrency 1 is the client's p50 minus the server's own p50 (`GET /stats` on the model server,
reset before each measurement). Installs wrk from Debian when it is missing.

The InvokeEndpoint path runs against the same server, which also answers the SageMaker runtime's
`POST /endpoints/{name}/invocations`: `infercost loadtest --endpoint bench` with
`AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME` pointing at it (SigV4-signed requests, test credentials),
beside wrk on that path and the boto3 baseline the transport replaced (`_boto3_invoke.py`:
`invoke_endpoint` in threads, run for `--seconds`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from _common import (
    argument_parser,
    describe_machine,
    measured_with_context,
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
ENDPOINT = "bench"
INVOKE_PATH = f"/endpoints/{ENDPOINT}/invocations"
# Test credentials: the stand-in does not check them; no request leaves 127.0.0.1.
INVOKE_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIDBENCHMARK",
    "AWS_SECRET_ACCESS_KEY": "benchmark",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
BASELINE = str(Path(__file__).with_name("_boto3_invoke.py"))
TOOLS = ("wrk", "infercost", "wrk_invoke", "infercost_invoke", "boto3_invoke")


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
def model_server(profile: str, lifetime_s: float, *options: str) -> Iterator[str]:
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
            *options,
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(SERVER_CPU),
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        url = process.stdout.readline().strip() if ready else ""
        if not url.startswith(("http://127.0.0.1:", "https://127.0.0.1:")):
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
    # The TLS benchmark's server has a self-signed certificate; this is 127.0.0.1.
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    with urllib.request.urlopen(request, timeout=10, context=context) as response:
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


def run_wrk(
    wrk: str, url: str, concurrency: int, seconds: float, script: Path, path: str = "/invocations"
) -> dict[str, float]:
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
            f"{url}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
        preexec_fn=pinned(CLIENT_CPU),
    )
    rps, p50 = parse_wrk(done.stdout)
    return {"rps": rps, "p50_ms": p50, "server_p50_ms": server_p50_ms(url)}


def invoke_env(url: str, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**clean, **INVOKE_ENV, "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": url, **extra}


def run_boto3(url: str, concurrency: int, seconds: float, body: Path) -> dict[str, float]:
    """The boto3 baseline for `seconds` (it is too slow to send as many requests as wrk)."""
    server_stats(url, "DELETE")
    done = subprocess.run(
        [
            sys.executable,
            BASELINE,
            "--endpoint",
            ENDPOINT,
            "--concurrency",
            str(concurrency),
            "--seconds",
            f"{seconds:g}",
            "--body",
            str(body),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        env=invoke_env(url),
        preexec_fn=pinned(CLIENT_CPU),
    )
    if done.returncode != 0:
        raise SystemExit(f"the boto3 baseline failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout)
    result["server_p50_ms"] = server_p50_ms(url)
    return result


def run_infercost(
    url: str, concurrency: int, requests: int, body: Path, *, invoke: bool = False, **env: str
) -> dict[str, float]:
    """One `infercost loadtest`: the serial run at concurrency 1, a sweep level otherwise; with
    `invoke`, over InvokeEndpoint (`--endpoint`) instead of direct HTTP (`--url`)."""
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
            *(["--endpoint", ENDPOINT] if invoke else ["--url", url]),
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
        env=invoke_env(url, **env) if invoke else None,
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
        "client_bound": bool(level.get("client_bound")),
        "client_cpu_share": float(level.get("client_cpu_share") or 0.0),
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
        last_rate: dict[tuple[str, int, bool], float] = {}
        for round_index in range(args.rounds):
            for profile in profiles:
                for level_index, concurrency in enumerate(levels):
                    key = (profile, concurrency)
                    wrk_first = (*key, False) not in last_rate or (round_index + level_index) % 2 == 0
                    entry: dict[str, Any] = {"round": round_index, "profile": profile}
                    entry["concurrency"] = concurrency
                    entry["order"] = "wrk first" if wrk_first else "infercost first"
                    url = urls[profile]
                    for tool in TOOLS if wrk_first else TOOLS[::-1]:
                        # Each infercost run sends as many requests as wrk completed on its path.
                        rate_key = (profile, concurrency, tool.endswith("_invoke"))
                        if tool in ("wrk", "wrk_invoke"):
                            path = INVOKE_PATH if tool == "wrk_invoke" else "/invocations"
                            entry[tool] = run_wrk(wrk, url, concurrency, args.seconds, script, path)
                            last_rate[rate_key] = entry[tool]["rps"]
                        elif tool == "boto3_invoke":
                            entry[tool] = run_boto3(url, concurrency, args.seconds, body)
                        else:
                            rate = last_rate.get(rate_key) or last_rate[(profile, concurrency, False)]
                            count = int(min(max(rate * args.seconds, 300), 300_000))
                            entry[tool] = run_infercost(
                                url, concurrency, count, body, invoke=tool != "infercost"
                            )
                    entry["ratio"] = entry["infercost"]["rps"] / entry["wrk"]["rps"]
                    entry["ratio_invoke"] = entry["infercost_invoke"]["rps"] / entry["wrk_invoke"]["rps"]
                    entry["ratio_boto3"] = entry["boto3_invoke"]["rps"] / entry["wrk_invoke"]["rps"]
                    print(
                        f"round {round_index} {profile:>8} c={concurrency:<3} "
                        f"wrk {entry['wrk']['rps']:8.0f}/s  infercost {entry['infercost']['rps']:8.0f}/s  "
                        f"ratio {entry['ratio']:.2f} | invoke: wrk {entry['wrk_invoke']['rps']:8.0f}/s  "
                        f"infercost {entry['infercost_invoke']['rps']:8.0f}/s ({entry['ratio_invoke']:.2f})  "
                        f"boto3 {entry['boto3_invoke']['rps']:7.0f}/s ({entry['ratio_boto3']:.2f})",
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
                "wrk_invoke_rps": spread([r["wrk_invoke"]["rps"] for r in mine]),
                "infercost_invoke_rps": spread([r["infercost_invoke"]["rps"] for r in mine]),
                "boto3_invoke_rps": spread([r["boto3_invoke"]["rps"] for r in mine]),
                "ratio_invoke": spread([r["ratio_invoke"] for r in mine]),
                "ratio_boto3": spread([r["ratio_boto3"] for r in mine]),
                "client_bound": sum(r["infercost_invoke"].get("client_bound", False) for r in mine),
                # Requests per second of the client's own CPU time: what one core can drive.
                "invoke_rps_per_client_cpu": spread(
                    [
                        r["infercost_invoke"]["rps"] / r["infercost_invoke"]["client_cpu_share"]
                        for r in mine
                        if r["infercost_invoke"].get("client_cpu_share")
                    ]
                    or [0.0]
                ),
            }
            if concurrency == 1:
                for tool in TOOLS:
                    row[f"{tool}_overhead_ms"] = spread(
                        [r[tool]["p50_ms"] - r[tool]["server_p50_ms"] for r in mine]
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
    invoke = table(
        [
            "server profile",
            "concurrency",
            "wrk req/s",
            "infercost `--endpoint` req/s",
            "boto3 baseline req/s",
            "infercost ÷ wrk",
            "boto3 ÷ wrk",
            "infercost req/s per client CPU-second",
            "goal ≥ 0.5 (median)",
        ],
        [
            [
                f"`{row['profile']}`",
                row["concurrency"],
                show(row["wrk_invoke_rps"]),
                show(row["infercost_invoke_rps"])
                + (f" ({row['client_bound']} client-bound)" if row.get("client_bound") else ""),
                show(row["boto3_invoke_rps"]),
                show(row["ratio_invoke"], "{:.2f}"),
                show(row["ratio_boto3"], "{:.2f}"),
                show(row["invoke_rps_per_client_cpu"]),
                "met" if row["ratio_invoke"]["median"] >= GOAL_RATIO else "**missed**",
            ]
            for row in rows
        ],
    )
    invoke_overhead = table(
        [
            "server profile",
            "infercost `--endpoint` p50 − server p50 (ms)",
            "wrk p50 − server p50 (ms)",
            "boto3 p50 − server p50 (ms)",
            "goal ≤ 0.5 ms (median)",
        ],
        [
            [
                f"`{row['profile']}`",
                show(row["infercost_invoke_overhead_ms"], "{:.3f}"),
                show(row["wrk_invoke_overhead_ms"], "{:.3f}"),
                show(row["boto3_invoke_overhead_ms"], "{:.3f}"),
                "met" if row["infercost_invoke_overhead_ms"]["median"] <= GOAL_OVERHEAD_MS else "**missed**",
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
        f"{overhead}\n\n"
        "**The InvokeEndpoint path** (AWS's): the same server answering `POST "
        f"{INVOKE_PATH}`, `infercost loadtest --endpoint {ENDPOINT}` with SigV4-signed requests, "
        "wrk on the same path, and the boto3 baseline it replaced (threads, run for the same "
        "seconds):\n\n"
        f"{invoke}\n\n"
        "Client overhead at concurrency 1 on this path:\n\n"
        f"{invoke_overhead}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="wrk's duration per measurement")
    parser.add_argument("--profiles", default="noop,fixed:1")
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 20 or not 0.5 <= args.seconds <= 30:
        parser.error("--rounds must be 1..20 and --seconds 0.5..30")
    data = measured_with_context(lambda: measure(args))
    data |= {"rounds": args.rounds, "seconds": args.seconds, "pinned": SERVER_CPU is not None}
    data["summary"] = summarize(data["runs"], data["profiles"], data["levels"])
    publish("loadgen_vs_wrk", data, markdown, section="loadgen", no_doc=args.no_doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
