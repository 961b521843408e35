"""The InvokeEndpoint path over TLS, as on AWS: `infercost loadtest --endpoint` against the model
server serving HTTPS (a self-signed certificate for 127.0.0.1, trusted through AWS_CA_BUNDLE),
beside wrk on the same HTTPS path, in the same rounds.

    .venv/bin/python benchmarks/invoke_tls.py [--rounds 3] [--seconds 3]

It measures what the load functions' planning needs: the requests per second one core of the
client drives when every request and response is encrypted (*requests per client CPU-second*:
throughput over the share of the level the client's event loop was on CPU), and whether the
client's overhead at p50 stays within the goal on TLS.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
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
from infercost.local.tls import self_signed_certificate
from loadgen_vs_wrk import (
    GOAL_OVERHEAD_MS,
    GOAL_RATIO,
    INVOKE_PATH,
    SERVER_CPU,
    ensure_wrk,
    model_server,
    run_infercost,
    run_wrk,
    wrk_script,
)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    wrk = ensure_wrk()
    levels = [int(level) for level in args.concurrency.split(",")]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        body = Path(folder) / "body.json"
        body.write_bytes(sample_payload())
        script = wrk_script(body, Path(folder))
        cert, key = self_signed_certificate(Path(folder))
        lifetime = 60 + args.rounds * len(levels) * (2 * args.seconds + 10)
        url = stack.enter_context(model_server("noop", lifetime, "--tls", str(cert), str(key)))
        for round_index in range(args.rounds):
            for concurrency in levels:
                entry: dict[str, Any] = {"round": round_index, "concurrency": concurrency}
                tools = ("wrk", "infercost") if (round_index + concurrency) % 2 == 0 else ("infercost", "wrk")
                for tool in tools:
                    if tool == "wrk":
                        entry["wrk"] = run_wrk(wrk, url, concurrency, args.seconds, script, INVOKE_PATH)
                    else:
                        # As many requests as wrk completed: this round's figure, else the last round's.
                        previous = [r["wrk"]["rps"] for r in runs if r["concurrency"] == concurrency]
                        rate = entry["wrk"]["rps"] if "wrk" in entry else previous[-1] if previous else 5000.0
                        count = int(min(max(rate * args.seconds, 300), 300_000))
                        entry["infercost"] = run_infercost(
                            url, concurrency, count, body, invoke=True, AWS_CA_BUNDLE=str(cert)
                        )
                entry["ratio"] = entry["infercost"]["rps"] / entry["wrk"]["rps"]
                share = entry["infercost"]["client_cpu_share"]
                entry["per_cpu_second"] = entry["infercost"]["rps"] / share if share else 0.0
                print(
                    f"round {round_index} c={concurrency:<3} wrk {entry['wrk']['rps']:8.0f}/s  "
                    f"infercost {entry['infercost']['rps']:8.0f}/s ({entry['ratio']:.2f}), client CPU "
                    f"{share:.0%}, {entry['per_cpu_second']:.0f} req per client CPU-second",
                    file=sys.stderr,
                )
                runs.append(entry)
    rows = []
    for concurrency in levels:
        mine = [r for r in runs if r["concurrency"] == concurrency]
        row: dict[str, Any] = {
            "concurrency": concurrency,
            "wrk_rps": spread([r["wrk"]["rps"] for r in mine]),
            "infercost_rps": spread([r["infercost"]["rps"] for r in mine]),
            "ratio": spread([r["ratio"] for r in mine]),
            "client_cpu_share": spread([r["infercost"]["client_cpu_share"] for r in mine]),
            "per_cpu_second": spread([r["per_cpu_second"] for r in mine]),
            "client_bound": sum(bool(r["infercost"]["client_bound"]) for r in mine),
        }
        if concurrency == 1:
            row["overhead_ms"] = spread(
                [r["infercost"]["p50_ms"] - r["infercost"]["server_p50_ms"] for r in mine]
            )
            row["wrk_overhead_ms"] = spread([r["wrk"]["p50_ms"] - r["wrk"]["server_p50_ms"] for r in mine])
        rows.append(row)
    return {"runs": runs, "summary": rows}


def markdown(data: dict[str, Any]) -> str:
    rows = data["summary"]
    throughput = table(
        [
            "concurrency",
            "wrk req/s",
            "infercost `--endpoint` req/s",
            "infercost ÷ wrk",
            "client CPU share",
            "infercost req/s per client CPU-second",
            "levels marked client-bound",
            "goal ≥ 0.5 (median)",
        ],
        [
            [
                row["concurrency"],
                show(row["wrk_rps"]),
                show(row["infercost_rps"]),
                show(row["ratio"], "{:.2f}"),
                show(row["client_cpu_share"], "{:.2f}"),
                show(row["per_cpu_second"]),
                f"{row['client_bound']} of {data['rounds']}",
                "met" if row["ratio"]["median"] >= GOAL_RATIO else "**missed**",
            ]
            for row in rows
        ],
    )
    serial = next((row for row in rows if row["concurrency"] == 1), None)
    overhead = (
        f"Client overhead at concurrency 1 (client p50 − server p50): infercost "
        f"{show(serial['overhead_ms'], '{:.3f}')} ms, wrk {show(serial['wrk_overhead_ms'], '{:.3f}')} ms "
        f"({'met' if serial['overhead_ms']['median'] <= GOAL_OVERHEAD_MS else '**missed**'}: goal ≤ 0.5 ms)."
        if serial
        else ""
    )
    return (
        f"Command: `{data['command']}`  \n"
        f"Machine: {describe_machine(data['machine'], load_after=data['load_after'])}.  \n"
        f"{data['rounds']} rounds; each cell is min / median / max; the no-op model server serves HTTPS "
        f"on CPU {SERVER_CPU}, the client runs on the other core; wrk runs {data['seconds']:g} s per "
        "measurement and `infercost loadtest` sends as many requests as wrk completed.\n\n"
        f"{throughput}\n\n{overhead}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", default="1,8,32")
    args = parser.parse_args()
    data = measured_with_context(lambda: measure(args)) | {"rounds": args.rounds, "seconds": args.seconds}
    publish("invoke_tls", data, markdown, section="invoke_tls", no_doc=args.no_doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
