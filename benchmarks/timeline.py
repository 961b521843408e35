"""Expected wall time, endpoint time and benchmark cost of a 10-candidate evaluation on real AWS.

    .venv/bin/python benchmarks/timeline.py [--max-concurrency 1,2,4,5,10]

A model, not a measurement: `infercost.domain.planning.plan_run` (the estimate `infercost plan SPEC`
prints and Prepare's budget guard checks) applied to ten candidates (CPU, GPU, Inferentia,
serverless) with the method's load (100 warm-up + 1000 serial requests, sweep 2/4/8/16, p90 ≤
80 ms), the stack's default waits (each endpoint deleted 30 s after the measured run's last
minute has closed, CloudWatch read 60 s after the last measured request) and the bundled
us-east-1 on-demand prices. infercost's parallel Map is shown for several MaxConcurrency values beside the seed's
sequential protocol and the Inference Recommender Default job. The durations behind it are
`PlanAssumptions`, printed with the table.
"""

from __future__ import annotations

import json
from typing import Any

from _common import argument_parser, command_line, machine, publish, table
from infercost.data.pricing.book import PriceBook
from infercost.domain.formatting import minutes
from infercost.domain.models import EvaluationSpec
from infercost.domain.planning import plan_run
from infercost.domain.workflow import DEFAULT_METRICS_FLUSH_S

REGION = "us-east-1"
SPEC: dict[str, Any] = {
    "model": {
        "name": "densenet121",
        "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311",
    },
    "payload": {"content_type": "application/x-image", "s3_key": "models/densenet121/sample.jpg"},
    "candidates": [
        {"instance_type": "ml.c7g.large"},
        {"instance_type": "ml.c6i.large"},
        {"instance_type": "ml.c6i.xlarge"},
        {"instance_type": "ml.m6i.large"},
        {"instance_type": "ml.c5.large"},
        {"instance_type": "ml.g4dn.xlarge"},
        {"instance_type": "ml.g5.xlarge"},
        {"instance_type": "ml.g6.xlarge"},
        {"instance_type": "ml.inf2.xlarge"},
        {"serverless": {"memory_mb": 4096, "max_concurrency": 10}},
    ],
    "slo": {"percentile": "p90", "max_latency_ms": 80},
    "load": {"warmup": 100, "requests": 1000, "concurrency": [1, 2, 4, 8, 16]},
}
METRICS_DELAY_S = 60


def estimate(levels: list[int]) -> dict[str, Any]:
    spec = EvaluationSpec.model_validate(SPEC)
    prices = PriceBook.load(REGION)
    plans = [plan_run(spec, prices, max_concurrency=k, metrics_delay_s=METRICS_DELAY_S) for k in levels]
    rows: list[dict[str, Any]] = []
    for plan in plans:
        ours = plan.strategies[0]
        rows.append(
            {
                "strategy": ours.name,
                "wall_seconds": ours.wall_seconds,
                "endpoint_seconds": ours.endpoint_seconds,
                "cost_usd": ours.cost_usd,
            }
        )
    for strategy in plans[0].strategies[1:]:
        rows.append(
            {
                "strategy": strategy.name,
                "wall_seconds": strategy.wall_seconds,
                "endpoint_seconds": strategy.endpoint_seconds,
                "cost_usd": strategy.cost_usd,
                "note": strategy.note,
            }
        )
    return {
        "candidates": [c.model_dump(mode="json") for c in plans[0].candidates],
        "strategies": rows,
        "assumptions": plans[0].assumptions,
    }


def markdown(data: dict[str, Any]) -> str:
    seed = next(r for r in data["strategies"] if r["strategy"].startswith("seed"))
    strategies = table(
        ["strategy", "wall time", "÷ seed", "endpoint time", "benchmark cost (on-demand)"],
        [
            [
                row["strategy"],
                minutes(row["wall_seconds"]),
                f"{row['wall_seconds'] / seed['wall_seconds']:.2f}",
                minutes(row["endpoint_seconds"]),
                f"${row['cost_usd']:.2f}" if row["cost_usd"] is not None else "not published",
            ]
            for row in data["strategies"]
        ],
    )
    candidates = table(
        [
            "candidate",
            "$/hour",
            "create",
            "load + sweep",
            "release wait",
            "delete",
            "endpoint time",
            "metrics wait",
            "cost",
        ],
        [
            [
                c["label"],
                f"${c['price_per_hour_usd']:.3f}" if c["price_per_hour_usd"] else "per use",
                minutes(c["create_s"]),
                minutes(c["load_s"]),
                minutes(c["release_wait_s"]),
                minutes(c["teardown_s"]),
                minutes(c["endpoint_seconds"]),
                minutes(c["metrics_wait_s"]),
                f"${c['cost_usd']:.2f}",
            ]
            for c in data["candidates"]
        ],
    )
    assumptions = ", ".join(f"`{k}` {v:g}" for k, v in data["assumptions"].items())
    return (
        f"Command: `{data['command']}` (a model: no measurement, no load average applies; "
        f"computed {data['machine']['date']}).  \n"
        f"Ten candidates, 100 warm-up + 1000 serial requests and a sweep at 2/4/8/16 in flight "
        f"(1000 requests each), p90 ≤ 80 ms, {METRICS_DELAY_S} s metrics delay, "
        f"{DEFAULT_METRICS_FLUSH_S} s metrics flush, {REGION} on-demand "
        "prices from the bundled snapshot. Assumptions (seconds, ms for the request overhead): "
        f"{assumptions}.\n\n"
        f"{strategies}\n\n"
        "Per candidate (the same for every MaxConcurrency; endpoint time = create + load + release "
        "wait + delete, the metrics wait follows the release and is not billed):\n\n"
        f"{candidates}"
    )


def main() -> int:
    parser = argument_parser(__doc__)
    parser.add_argument("--max-concurrency", default="1,2,4,5,10")
    args = parser.parse_args()
    levels = [int(part) for part in args.max_concurrency.split(",")]
    data = {"command": command_line(), "machine": machine(), "spec": SPEC, **estimate(levels)}
    publish("timeline", json.loads(json.dumps(data)), markdown, section="timeline", no_doc=args.no_doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
