"""The load path infercost used before its async InvokeEndpoint transport, kept as the baseline:
boto3 `invoke_endpoint` from `concurrency` threads sharing one client (pool sized to the
concurrency, retries off), for `--seconds`. Prints {"rps", "p50_ms", "requests"} as JSON.

    python benchmarks/_boto3_invoke.py --endpoint NAME --concurrency 8 --seconds 3 --body FILE

The endpoint URL, credentials and region come from the standard settings
(AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME points it at a local stand-in).
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--body", type=Path, required=True)
    args = parser.parse_args()
    body = args.body.read_bytes()
    client = boto3.client(
        "sagemaker-runtime",
        config=Config(
            max_pool_connections=max(args.concurrency, 10),
            retries={"total_max_attempts": 1, "mode": "standard"},
            tcp_keepalive=True,
        ),
    )
    for _ in range(50):  # warm-up: connections, credentials, the model's first answers
        client.invoke_endpoint(EndpointName=args.endpoint, ContentType="application/json", Body=body)[
            "Body"
        ].read()
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + args.seconds

    def worker() -> None:
        mine = []
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            response = client.invoke_endpoint(
                EndpointName=args.endpoint, ContentType="application/json", Body=body
            )
            response["Body"].read()
            mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    print(
        json.dumps(
            {
                "rps": len(latencies) / elapsed,
                "p50_ms": statistics.median(latencies),
                "requests": len(latencies),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
