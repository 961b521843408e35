"""What an evaluation will cost and how long it will take, before any endpoint exists.

The estimate follows the workflow's structure: candidates run in waves of `max_concurrency`;
each candidate's endpoint lives from CreateEndpoint until ReleaseEndpoint deletes it, once the
measured run's last minute has closed; the wait for CloudWatch comes after that, in the wall
time only. The durations SageMaker does not let us measure in advance are stated assumptions
(`PlanAssumptions`), printed with the plan so a reader can judge them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pydantic import BaseModel

from infercost.domain import costing
from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, EvaluationSpec, LoadPlan, Slo
from infercost.domain.prices import PriceBasis, PriceLookup
from infercost.domain.workflow import DEFAULT_METRICS_FLUSH_S, MAX_RELEASE_DELAY_S

ACCELERATED_FAMILIES = ("g4dn", "g5", "g6", "g6e", "p2", "p3", "p4d", "p5", "inf1", "inf2", "trn1")
INFERENCE_RECOMMENDER_DEFAULT_S = 45 * 60


@dataclass(frozen=True)
class PlanAssumptions:
    """Durations the estimate assumes; the defaults are typical figures, not guarantees.

    What AWS documents (checked for docs/benchmarks.md): endpoint creation "can take a few
    minutes" (serverless-endpoints-create-endpoint) and the EndpointInService waiter polls every
    30 s for up to 120 polls (60 min), so no figure is published for the Creating phase; the
    values below are typical, and an estimate counts the whole Creating phase as billed, which
    makes it an upper bound if billing starts at InService. SageMaker publishes invocation
    metrics (ModelLatency, Invocations) at a 60-second interval (API_MetricsConfig: "invocation
    metrics continue to be published at the default 60-second interval"), so the last minute of
    a run is complete one publishing interval after it ends, hence the settle time after the
    workflow's metrics delay. Inference Recommender Default jobs "complete within 45 minutes"
    (inference-recommender-recommendation-jobs).

    The endpoint is deleted once the measured run's last minute has closed, plus the workflow's
    metrics flush, and at most 90 s after the last measured request (`release_wait_seconds`). A
    run ends at no particular second of its minute, so the minute closes on average half a
    minute after its last request (`minute_close_s`).
    """

    cpu_endpoint_create_s: float = 6 * 60  # CreateEndpoint to InService, CPU instance
    accelerated_endpoint_create_s: float = 9 * 60  # GPU / Inferentia / Elastic Inference
    serverless_endpoint_create_s: float = 3 * 60  # AWS: "can take a few minutes"
    minute_close_s: float = 30  # last measured request until its minute closes, on average
    teardown_s: float = 60  # DeleteEndpoint until the instances are released
    metrics_settle_s: float = 2 * 60  # two 60-second publishing intervals after the metrics delay
    request_overhead_ms: float = 5.0  # network + SDK per request, on top of model latency
    workflow_overhead_s: float = 90.0  # Prepare, Recommend, Report, Notify
    seed_metrics_buffer_s: float = 5 * 60  # the seed protocol's end-of-run buffer

    def create_seconds(self, candidate: Candidate) -> float:
        if candidate.is_serverless:
            return self.serverless_endpoint_create_s
        family = str(candidate.instance_type).split(".")[1]
        if candidate.uses_elastic_inference or family in ACCELERATED_FAMILIES:
            return self.accelerated_endpoint_create_s
        return self.cpu_endpoint_create_s

    def release_wait_seconds(self, metrics_flush_s: float) -> float:
        """Last measured request until ReleaseEndpoint: the minute closes, then the flush (≤ 90 s).

        Bounding the mean wait, rather than each wait, errs high, never low.
        """
        return min(self.minute_close_s + metrics_flush_s, MAX_RELEASE_DELAY_S)


class CandidatePlan(BaseModel):
    """One candidate's expected timeline and cost.

    Endpoint time: create + load + release wait + DeleteEndpoint. The metrics wait follows the
    release (the endpoint is gone, DeleteEndpoint finishes meanwhile) and counts in the wall time.
    """

    label: str
    price_per_hour_usd: float | None
    # How far the price (or, serverless, the rates) can be trusted: derived is an estimate.
    price_basis: PriceBasis | None = None
    create_s: float
    load_s: float
    release_wait_s: float
    teardown_s: float
    metrics_wait_s: float
    endpoint_seconds: float
    wall_seconds: float
    cost_usd: float


class StrategyEstimate(BaseModel):
    """Wall time, endpoint time and cost of one way to run the same benchmark."""

    name: str
    wall_seconds: float
    endpoint_seconds: float
    cost_usd: float | None
    note: str


class RunPlan(BaseModel):
    """The estimate `infercost plan` prints and the budget guard checks."""

    model: str
    candidates: list[CandidatePlan]
    max_concurrency: int
    wall_seconds: float
    endpoint_seconds: float
    cost_usd: float
    budget_usd: float | None
    within_budget: bool
    strategies: list[StrategyEstimate]
    assumptions: dict[str, float]


def expected_load_seconds(load: LoadPlan, slo: Slo, overhead_ms: float, *, sweep: bool = True) -> float:
    """Time to drive the load, assuming each request takes the SLO bound plus overhead.

    The SLO bound is the slowest a candidate can be and still matter; slower candidates stop
    their sweep at the first level, so this is a fair upper estimate for the ones that qualify.
    """
    per_request_s = (slo.max_latency_ms + overhead_ms) / 1000
    serial = (load.warmup + load.requests) * per_request_s
    if not sweep:
        return serial
    per_level = load.requests_per_level or load.requests
    swept = sum(per_level * per_request_s / level for level in load.concurrency if level > 1)
    return serial + swept


def plan_candidate(
    candidate: Candidate,
    spec: EvaluationSpec,
    prices: PriceLookup,
    *,
    metrics_delay_s: float,
    metrics_flush_s: float,
    assumptions: PlanAssumptions,
) -> CandidatePlan:
    """Expected timeline of one candidate and what its endpoint costs for that time."""
    create = assumptions.create_seconds(candidate)
    load = expected_load_seconds(spec.load, spec.slo, assumptions.request_overhead_ms)
    release = assumptions.release_wait_seconds(metrics_flush_s)
    teardown = assumptions.teardown_s
    # The metrics delay counts from the last measured request, so the release wait is part of it.
    metrics_wait = max(metrics_delay_s - release, 0.0) + assumptions.metrics_settle_s
    endpoint_seconds = create + load + release + teardown
    if candidate.serverless is not None:
        rates = prices.serverless_rates()
        swept_levels = sum(1 for level in spec.load.concurrency if level > 1)
        requests = (
            spec.load.warmup
            + spec.load.requests
            + swept_levels * (spec.load.requests_per_level or spec.load.requests)
        )
        cost = requests * costing.serverless_cost_per_inference(
            rates, candidate.serverless.memory_mb, spec.slo.max_latency_ms
        )
        price, basis = None, rates.basis
    else:
        hourly = prices.candidate_price(candidate)
        price, basis = hourly.usd_per_hour, hourly.basis
        cost = costing.benchmark_cost_usd(price, endpoint_seconds, candidate.instance_count)
    return CandidatePlan(
        label=candidate.label,
        price_per_hour_usd=price,
        price_basis=basis,
        create_s=create,
        load_s=load,
        release_wait_s=release,
        teardown_s=teardown,
        metrics_wait_s=metrics_wait,
        endpoint_seconds=endpoint_seconds,
        wall_seconds=create + load + release + metrics_wait,
        cost_usd=cost,
    )


def plan_run(
    spec: EvaluationSpec,
    prices: PriceLookup,
    *,
    max_concurrency: int = 4,
    metrics_delay_s: float = 60,
    metrics_flush_s: float = DEFAULT_METRICS_FLUSH_S,
    assumptions: PlanAssumptions | None = None,
) -> RunPlan:
    """Estimate the whole evaluation, and the same benchmark run the seed's way and by Inference Recommender."""
    assumptions = assumptions or PlanAssumptions()
    if max_concurrency < 1:
        raise InputError("must be at least 1", field="max_concurrency")
    plans = [
        plan_candidate(
            candidate,
            spec,
            prices,
            metrics_delay_s=metrics_delay_s,
            metrics_flush_s=metrics_flush_s,
            assumptions=assumptions,
        )
        for candidate in spec.candidates
    ]
    wall = assumptions.workflow_overhead_s + _waves_wall_seconds(
        [plan.wall_seconds for plan in plans], max_concurrency
    )
    endpoint_seconds = sum(plan.endpoint_seconds for plan in plans)
    cost = sum(plan.cost_usd for plan in plans)
    budget = spec.max_benchmark_cost_usd
    return RunPlan(
        model=spec.model.name,
        candidates=plans,
        max_concurrency=max_concurrency,
        wall_seconds=wall,
        endpoint_seconds=endpoint_seconds,
        cost_usd=cost,
        budget_usd=budget,
        within_budget=budget is None or cost <= budget,
        strategies=[
            StrategyEstimate(
                name=f"infercost (parallel Map, MaxConcurrency {max_concurrency})",
                wall_seconds=wall,
                endpoint_seconds=endpoint_seconds,
                cost_usd=cost,
                note=(
                    "serial run plus concurrency sweep per candidate; each endpoint deleted once its "
                    "last measured minute has closed, before the wait for CloudWatch"
                ),
            ),
            _seed_estimate(spec, prices, assumptions),
            StrategyEstimate(
                name="SageMaker Inference Recommender (Default job)",
                wall_seconds=INFERENCE_RECOMMENDER_DEFAULT_S,
                endpoint_seconds=len(plans) * INFERENCE_RECOMMENDER_DEFAULT_S,
                cost_usd=None,
                note=(
                    "AWS documents that Default jobs complete within 45 minutes; its instance set is "
                    "chosen by the service and its endpoint time is not published (upper bound shown)"
                ),
            ),
        ],
        assumptions={key: float(value) for key, value in asdict(assumptions).items()},
    )


def _waves_wall_seconds(durations: list[float], max_concurrency: int) -> float:
    """Wall time when at most `max_concurrency` candidates run at once (greedy, in spec order)."""
    if not durations:
        return 0.0
    lanes = [0.0] * min(max_concurrency, len(durations))
    for duration in durations:
        lane = lanes.index(min(lanes))
        lanes[lane] += duration
    return max(lanes)


def _seed_estimate(
    spec: EvaluationSpec, prices: PriceLookup, assumptions: PlanAssumptions
) -> StrategyEstimate:
    """The published protocol: one candidate after another, serial requests only, 5-minute metrics buffer."""
    wall = 0.0
    endpoint_seconds = 0.0
    cost = 0.0
    load = expected_load_seconds(spec.load, spec.slo, assumptions.request_overhead_ms, sweep=False)
    for candidate in spec.candidates:
        seconds = (
            assumptions.create_seconds(candidate)
            + load
            + assumptions.seed_metrics_buffer_s
            + assumptions.teardown_s
        )
        wall += seconds
        endpoint_seconds += seconds
        if candidate.serverless is not None:
            rates = prices.serverless_rates()
            cost += (spec.load.warmup + spec.load.requests) * costing.serverless_cost_per_inference(
                rates, candidate.serverless.memory_mb, spec.slo.max_latency_ms
            )
        else:
            price = prices.candidate_price(candidate).usd_per_hour
            cost += costing.benchmark_cost_usd(price, seconds, candidate.instance_count)
    return StrategyEstimate(
        name="seed protocol (sequential, by hand)",
        wall_seconds=wall,
        endpoint_seconds=endpoint_seconds,
        cost_usd=cost,
        note="one endpoint at a time, 100 warm-up + N serial requests, 5-minute metrics buffer, no sweep",
    )


def check_budget(plan: RunPlan) -> None:
    """Refuse a run whose estimated benchmark cost exceeds the spec's max_benchmark_cost_usd."""
    if plan.within_budget or plan.budget_usd is None:
        return
    dearest = max(plan.candidates, key=lambda item: item.cost_usd)
    raise InputError(
        f"the estimated benchmark cost ${plan.cost_usd:.2f} exceeds the budget ${plan.budget_usd:.2f} "
        f"(dearest: {dearest.label} at ${dearest.cost_usd:.2f})",
        field="max_benchmark_cost_usd",
        hint="raise the budget, drop candidates, or lower load.requests / the concurrency levels",
    )
