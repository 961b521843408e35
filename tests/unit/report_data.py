"""A realistic evaluation for report and notification tests: 20 candidates of a DenseNet-121-like model.

17 measured (CPU, GPU, Inferentia, Elastic Inference, serverless; some miss the SLO, one has
errors), 3 without a measurement (two FAILED with SageMaker's FailureReason and a log tail, one
SKIPPED by the quota check), a concurrency sweep on every instance candidate, a traffic profile,
and a previous run to detect regressions against. The numbers follow a simple queueing model so
the charts look like real ones; they are made up, not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infercost.domain.hardware import EXAMPLE_IMAGES, hardware_kind
from infercost.domain.models import Candidate, Slo
from infercost.domain.recommend import recommend
from infercost.domain.records import Artifact, CandidateRecord, RunRecord, RunView
from infercost.domain.regression import Regression, detect_regressions
from infercost.domain.results import Recommendation, ResultsFile
from infercost.domain.traffic import Objective

from .price_table import TablePrices

SLO = Slo(percentile="p90", max_latency_ms=80)
TRAFFIC = {"requests_per_month": 10_000_000, "peak_rps": 20}
SWEEP_LEVELS = (2, 4, 8, 16, 32)
PRICES = TablePrices(hourly={})


@dataclass(frozen=True)
class Profile:
    candidate: dict[str, Any]
    price_per_hour_usd: float | None
    avg_ms: float
    workers: int
    tail: float = 1.0  # >1: heavier tail (serverless cold starts)
    errors: int = 0


PROFILES: tuple[Profile, ...] = (
    Profile({"instance_type": "ml.c5.large", "accelerator_type": "ml.eia2.medium"}, 0.287, 47.85, 1),
    Profile({"instance_type": "ml.c5.large"}, 0.119, 212.0, 2, errors=12),
    Profile({"instance_type": "ml.c5.xlarge"}, 0.238, 118.0, 4),
    Profile({"instance_type": "ml.c6i.large"}, 0.119, 151.0, 2),
    Profile({"instance_type": "ml.c6i.xlarge"}, 0.238, 79.0, 4),
    Profile({"instance_type": "ml.c6i.2xlarge"}, 0.476, 44.0, 8),
    Profile({"instance_type": "ml.c7g.large"}, 0.102, 131.0, 2),
    Profile({"instance_type": "ml.c7g.xlarge"}, 0.205, 68.0, 4),
    Profile({"instance_type": "ml.c7g.2xlarge"}, 0.41, 37.0, 8),
    Profile({"instance_type": "ml.m6i.xlarge"}, 0.269, 82.0, 4),
    Profile({"instance_type": "ml.g4dn.xlarge"}, 0.736, 11.5, 6),
    Profile({"instance_type": "ml.g5.xlarge"}, 1.408, 4.1, 8),
    Profile({"instance_type": "ml.g6.xlarge"}, 1.0104, 9.4, 8),
    Profile({"instance_type": "ml.inf2.xlarge"}, 0.99, 5.2, 4),
    Profile({"instance_type": "ml.c7g.xlarge", "instance_count": 2}, 0.205, 67.0, 8),
    Profile({"serverless": {"memory_mb": 4096, "max_concurrency": 10}}, None, 95.0, 10, tail=2.2),
    Profile({"serverless": {"memory_mb": 6144, "max_concurrency": 20}}, None, 70.0, 20, tail=1.8),
)

FAILURES: tuple[tuple[dict[str, Any], str, str, str | None, list[str] | None], ...] = (
    (
        {"instance_type": "ml.g5.2xlarge"},
        "FAILED",
        "endpoint infercost-r42-17-g5-2xlarge ended in Failed after 9 min 12 s",
        "The primary container for production variant AllTraffic did not pass the ping health check. "
        "Please check CloudWatch logs for this endpoint.",
        [
            "2026-11-20T10:14:02Z Warming up model densenet121 on cuda:0",
            "2026-11-20T10:14:03Z Traceback (most recent call last):",
            '2026-11-20T10:14:03Z   File "/opt/ml/code/inference.py", line 31, in model_fn',
            "2026-11-20T10:14:03Z     model = torch.jit.load(path, map_location=device)",
            "2026-11-20T10:14:03Z RuntimeError: CUDA error: no kernel image is available for execution",
            "2026-11-20T10:14:03Z Worker died. Restarting in 5 s <will fail again>",
        ],
    ),
    (
        {"instance_type": "ml.p3.2xlarge"},
        "FAILED",
        "CreateEndpoint failed: ResourceLimitExceeded (account limit of 0 ml.p3.2xlarge for endpoint usage)",
        None,
        None,
    ),
    (
        {"instance_type": "ml.inf2.8xlarge"},
        "SKIPPED",
        "skipped: the service quota for ml.inf2.8xlarge for endpoint usage is 0 in us-east-1 "
        "(request an increase in Service Quotas)",
        None,
        None,
    ),
)


def _latency(avg: float, tail: float) -> dict[str, float]:
    return {
        "avg": round(avg, 2),
        "p50": round(avg * 0.96, 2),
        "p90": round(avg * (1 + 0.08 * tail * tail), 2),
        "p95": round(avg * (1 + 0.14 * tail * tail), 2),
        "p99": round(avg * (1 + 0.3 * tail * tail), 2),
        "max": round(avg * (1 + 0.6 * tail * tail * tail), 2),
    }


def _sweep(profile: Profile, slo: Slo) -> tuple[list[dict[str, Any]], float]:
    """Levels of a concurrency sweep that stops after the first level over the SLO."""
    levels: list[dict[str, Any]] = []
    best = 0.0
    serial = _latency(profile.avg_ms, profile.tail)
    if serial[slo.percentile] <= slo.max_latency_ms:
        best = 1000 / profile.avg_ms
    for concurrency in SWEEP_LEVELS:
        load = concurrency / profile.workers
        avg = profile.avg_ms * max(1.0, load) * (1 + 0.04 * load)
        rps = concurrency * 1000 / avg
        latency = _latency(avg, profile.tail)
        levels.append(
            {
                "concurrency": concurrency,
                "requests": 1000,
                "ok": 1000,
                "errors_by_kind": {},
                "latency_ms": latency,
                "rps": round(rps, 2),
                "duration_s": round(1000 / rps, 2),
            }
        )
        if latency[slo.percentile] > slo.max_latency_ms:
            break
        best = max(best, rps)
    return levels, round(best, 2)


def results_file(*, inf2_latency_factor: float = 1.0, traffic: bool = True) -> ResultsFile:
    """The evaluation as a results file; the factor scales Inferentia's latency (for regressions).

    Without `traffic` there is no monthly projection — and no infinite monthly cost for the
    candidates that meet the SLO at no load level, which the store cannot hold.
    """
    results = []
    for profile in PROFILES:
        avg = profile.avg_ms * (inf2_latency_factor if "inf2" in str(profile.candidate) else 1.0)
        entry: dict[str, Any] = {
            "candidate": profile.candidate,
            "latency_ms": _latency(avg, profile.tail),
            "invocations": 1000,
            "errors": profile.errors,
            "source": "cloudwatch",
            "max_rps_at_slo": _sweep(Profile(**{**profile.__dict__, "avg_ms": avg}), SLO)[1],
            "image_uri": EXAMPLE_IMAGES[hardware_kind(profile.candidate.get("instance_type"))],
        }
        if profile.price_per_hour_usd is not None:
            entry["price_per_hour_usd"] = profile.price_per_hour_usd
        results.append(entry)
    failures = [
        {"candidate": candidate, "status": status, "error": error}
        for candidate, status, error, _, _ in FAILURES
    ]
    return ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "densenet121",
            "region": "us-east-1",
            "slo": SLO.model_dump(),
            "traffic": TRAFFIC if traffic else None,
            "results": results,
            "failures": failures,
        }
    )


def recommendation(
    results: ResultsFile | None = None, *, objective: Objective = "per-inference"
) -> Recommendation:
    """The fixture's recommendation; per inference unless asked (the report's sections by ranking)."""
    return recommend(results or results_file(), PRICES, objective=objective)


def regressions(*, traffic: bool = True) -> list[Regression]:
    """What got worse since a previous run in which Inferentia was 30 % faster."""
    previous = recommendation(results_file(inf2_latency_factor=0.7, traffic=traffic))
    current = recommendation(results_file(traffic=traffic))
    return detect_regressions(current, previous)


def run_view(
    *,
    status: str = "SUCCEEDED",
    with_recommendation: bool = True,
    error: str | None = None,
    simulated: bool = False,
    traffic: bool = True,
) -> RunView:
    """The evaluation as the store returns it: run item plus 20 candidate items."""
    results = results_file(traffic=traffic)
    answer = recommendation(results)
    run_id = "r42"
    started = "2026-11-20T10:00:00.000Z"
    records: list[CandidateRecord] = []
    for index, profile in enumerate(PROFILES):
        levels, _ = _sweep(profile, SLO)
        seconds = 540.0 + 60 * index % 7 * 30
        price = (profile.price_per_hour_usd or 0.0) * Candidate.model_validate(
            profile.candidate
        ).instance_count
        records.append(
            CandidateRecord(
                run_id=run_id,
                index=index,
                candidate=Candidate.model_validate(profile.candidate),
                status="COMPLETED",
                endpoint_name=f"infercost-{run_id}-{index:02d}",
                image_uri=EXAMPLE_IMAGES[
                    hardware_kind(Candidate.model_validate(profile.candidate).instance_type)
                ],
                result=results.results[index].model_dump(mode="json"),
                sweep=levels if profile.price_per_hour_usd is not None else None,
                endpoint_seconds=seconds,
                benchmark_cost_usd=round(price * seconds / 3600, 4),
            )
        )
    for offset, (candidate, cand_status, cand_error, reason, tail) in enumerate(FAILURES):
        records.append(
            CandidateRecord(
                run_id=run_id,
                index=len(PROFILES) + offset,
                candidate=Candidate.model_validate(candidate),
                status=cand_status,  # type: ignore[arg-type]
                error=cand_error,
                failure_reason=reason,
                log_tail=tail,
                endpoint_seconds=552.0 if reason else 0.0,
                benchmark_cost_usd=round(1.515 * 552 / 3600, 4) if reason else 0.0,
            )
        )
    spec: dict[str, Any] = {"model": {"name": "densenet121"}, "slo": SLO.model_dump()}
    if simulated:
        spec["simulated"] = True
    run = RunRecord(
        model="densenet121",
        started_at=started,
        run_id=run_id,
        status=status,  # type: ignore[arg-type]
        artifact=Artifact(bucket="ml-artifacts", key="models/densenet121/model.tar.gz", version_id="v7"),
        region="us-east-1",
        spec=spec,
        slo=SLO,
        finished_at="2026-11-20T10:41:17.000Z",
        endpoint_seconds=sum(record.endpoint_seconds or 0 for record in records),
        benchmark_cost_usd=round(sum(record.benchmark_cost_usd or 0 for record in records), 4),
        recommendation=answer.to_json() if with_recommendation else None,
        regressions=[item.model_dump(mode="json") for item in regressions(traffic=traffic)],
        error=error,
    )
    return RunView(run=run, candidates=records)
