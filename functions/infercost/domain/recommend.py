"""From measurements to an answer: SLO filter, ranking by cost, Pareto front, and the explanation."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from infercost.domain import confidence, costing
from infercost.domain.errors import InputError, MissingPriceError
from infercost.domain.explain import ELASTIC_INFERENCE_WARNING, explain
from infercost.domain.llm import monthly_tokens, token_costs, token_explanation, token_slo_miss
from infercost.domain.models import QUANTILES, Slo
from infercost.domain.prices import Price, PriceBasis, PriceLookup, SavingsPlanRate, basis_of_source
from infercost.domain.results import (
    CandidateResult,
    MonthlyProjection,
    RankedCandidate,
    Recommendation,
    ResultsFile,
    ServingOption,
)
from infercost.domain.traffic import OBJECTIVES, Objective, ServingSpec, TrafficProfile

T = TypeVar("T")
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class _Costed:
    """A result with its price and costs, before ranking."""

    index: int
    result: CandidateResult
    price: Price | None
    # The basis of the price or, for serverless, of the rates; and whether the snapshot gave it.
    basis: PriceBasis | None
    from_snapshot: bool
    cost_per_100k_usd: float
    cost_at_throughput_usd: float | None
    slo_latency_ms: float
    slo: confidence.SloJudgement
    meets_slo: bool
    verdict: str
    monthly: MonthlyProjection | None
    warnings: tuple[str, ...]
    serving: tuple[ServingOption, ...] = ()

    @property
    def best_serving(self) -> ServingOption | None:
        """The cheapest way to serve the traffic within the SLO with this candidate (None: no way)."""
        return next((o for o in self.serving if o.meets_slo and o.monthly_cost_usd is not None), None)

    def sort_key(self) -> tuple[float, float, float, str, str]:
        # A total order: equal costs go to the lower SLO latency, then to the lower average;
        # the label and the full JSON make the order independent of input order.
        return (
            self.cost_per_100k_usd,
            self.slo_latency_ms,
            self.result.latency_ms.avg,
            self.result.candidate.label,
            json.dumps(self.result.model_dump(mode="json"), sort_keys=True),
        )


def recommend(
    results: ResultsFile,
    prices: PriceLookup | None,
    *,
    slo: Slo | None = None,
    traffic: TrafficProfile | None = None,
    max_error_rate: float = 0.01,
    price_note: str | None = None,
    objective: Objective | None = None,
    serving: ServingSpec | None = None,
) -> Recommendation:
    """Cost every measured candidate, rank them under the objective, pick the best that meets the SLO.

    The objective (docs/method.md §7): `monthly` — the cheapest way to serve the traffic profile
    for a month, every serving mode considered (the default when there is a traffic profile);
    `per-inference` — cost per 100k with one request in flight (the published method, the
    default without traffic); `throughput` — cost per 100k at the highest load within the SLO.
    `price_note` says that live prices were asked for and the snapshot answered (a run's Prepare
    step records it); a price book that fell back while costing here says so itself.
    """
    slo = slo or results.slo
    if slo is None:
        raise InputError(
            "no SLO to judge the candidates against",
            field="slo",
            hint='add "slo": {"percentile": "p90", "max_latency_ms": 80} to the file or pass --slo p90:80',
        )
    traffic = traffic or results.traffic
    serving = serving or results.serving or ServingSpec()
    chosen = choose_objective(objective or results.objective, traffic, results)
    region = results.region or (prices.region if prices is not None else DEFAULT_REGION)
    costed = [
        _cost(index, result, prices, slo, traffic, max_error_rate)
        for index, result in enumerate(results.results)
    ]
    if traffic is not None:
        costed = [_with_serving(item, traffic, serving, slo, prices) for item in costed]
    by_tokens = chosen == "per-token"
    order = sorted(costed, key=OBJECTIVE_KEYS[chosen])
    pareto = _pareto_front(costed)
    ranked = [_ranked(rank, item, item.index in pareto, traffic) for rank, item in enumerate(order, start=1)]
    recommended = next((item for item in ranked if _eligible(item, chosen)), None)
    winners = _winners(costed, traffic, chosen, recommended)

    recommended_at_throughput = None
    throughput_ranking = None
    if all(
        item.cost_at_throughput_usd is not None or item.result.max_rps_at_slo is not None for item in costed
    ):
        by_throughput = sorted(
            costed,
            key=lambda item: (
                item.cost_at_throughput_usd if item.cost_at_throughput_usd is not None else math.inf,
                *item.sort_key()[1:],
            ),
        )
        throughput_ranking = [item.result.candidate.label for item in by_throughput]
        winner = next(
            (item for item in by_throughput if item.meets_slo and item.cost_at_throughput_usd is not None),
            None,
        )
        if winner is not None:
            recommended_at_throughput = next(r for r in ranked if r.rank == order.index(winner) + 1)

    warnings = sorted(
        {
            warning
            for item in ranked
            for warning in item.warnings
            if warning == ELASTIC_INFERENCE_WARNING or warning.startswith(confidence.POINT_ESTIMATE)
        }
    )
    prices_as_of = getattr(prices, "snapshot_as_of", None) if prices is not None else None
    if not any(item.from_snapshot for item in costed):
        prices_as_of = None
    fell_back = getattr(prices, "fallback_note", None) if prices is not None else None
    note = price_note or (fell_back if isinstance(fell_back, str) else None)
    return Recommendation(
        model=results.model,
        region=region,
        slo=slo,
        recommended=recommended,
        reason=(token_explanation(ranked, slo, recommended) if by_tokens else None)
        or explain(
            ranked,
            slo,
            recommended,
            recommended_at_throughput,
            traffic,
            objective=chosen,
            winners=winners,
        ),
        objective=chosen,
        ranking_basis=RANKING_BASIS[chosen],
        winners=winners,
        serving=recommended.serving_choice if recommended is not None else None,
        ranked=ranked,
        recommended_at_throughput=recommended_at_throughput,
        throughput_ranking=throughput_ranking,
        failures=list(results.failures),
        traffic=traffic,
        warnings=warnings,
        prices_as_of=prices_as_of if isinstance(prices_as_of, str) else None,
        price_note=note,
    )


def choose_objective(
    asked: Objective | None, traffic: TrafficProfile | None, results: ResultsFile
) -> Objective:
    """The objective asked for, else monthly with a traffic profile, else per-token when every
    candidate streamed tokens (an LLM workload), else per-inference; refused when its inputs are
    missing (one line naming the field and the fix)."""
    streamed = all(result.llm is not None for result in results.results)
    default: Objective = "per-token" if streamed else "per-inference"
    chosen: Objective = asked or ("monthly" if traffic is not None else default)
    if chosen == "per-token" and not streamed:
        raise InputError(
            "the per-token objective needs token measurements (a streaming LLM workload), and some "
            "results have none",
            field="objective",
            hint='measure with "workload": {"kind": "llm", …} or use --objective per-inference',
        )
    if chosen == "monthly" and traffic is None:
        raise InputError(
            "the monthly objective needs a traffic profile, and there is none",
            field="objective",
            hint='add "traffic": {"requests_per_month": 10000000, "peak_rps": 20} (or an hourly_rps '
            "curve, or --traffic FILE from `infercost traffic import`), or use --objective per-inference",
        )
    if chosen == "throughput" and all(result.max_rps_at_slo is None for result in results.results):
        raise InputError(
            "the throughput objective needs a concurrency sweep, and none ran (no max_rps_at_slo)",
            field="objective",
            hint="add load.concurrency such as [1, 2, 4, 8] to the spec, or use --objective per-inference",
        )
    return chosen


def _throughput_key(item: _Costed) -> tuple[float, float, float, str, str]:
    cost = item.cost_at_throughput_usd if item.cost_at_throughput_usd is not None else math.inf
    return (cost, *item.sort_key()[1:])


def _monthly_key(item: _Costed) -> tuple[float, float, float, float, str, str]:
    best = item.best_serving
    cost = best.monthly_cost_usd if best is not None and best.monthly_cost_usd is not None else math.inf
    return (cost, *item.sort_key())


def _token_key(item: _Costed) -> tuple[float, float, float, float, str, str]:
    return (_token_cost(item), *item.sort_key())


OBJECTIVE_KEYS: dict[Objective, Callable[[_Costed], tuple[Any, ...]]] = {
    "per-inference": _Costed.sort_key,
    "throughput": _throughput_key,
    "monthly": _monthly_key,
    "per-token": _token_key,
}
RANKING_BASIS: dict[Objective, Literal["serial", "throughput", "monthly", "output_tokens"]] = {
    "per-inference": "serial",
    "throughput": "throughput",
    "monthly": "monthly",
    "per-token": "output_tokens",
}


def _eligible(item: RankedCandidate | _Costed, objective: Objective) -> bool:
    """Can be recommended under the objective: meets the SLO, and has the objective's figure."""
    if not item.meets_slo:
        return False
    if objective == "throughput":
        return (
            item.cost_per_100k_at_throughput_usd is not None
            if isinstance(item, RankedCandidate)
            else item.cost_at_throughput_usd is not None
        )
    if objective == "monthly":
        best = item.serving_choice if isinstance(item, RankedCandidate) else item.best_serving
        return best is not None
    if objective == "per-token":
        if isinstance(item, RankedCandidate):
            return item.cost_per_1m_output_tokens_usd is not None
        return _token_cost(item) != math.inf
    return True


def _winners(
    costed: list[_Costed],
    traffic: TrafficProfile | None,
    chosen: Objective,
    recommended: RankedCandidate | None,
) -> dict[str, str | None]:
    """The winner under each objective that can be computed (the chosen one is `recommended`)."""
    winners: dict[str, str | None] = {chosen: recommended.label if recommended else None}
    for objective in OBJECTIVES:
        if objective == chosen:
            continue
        if objective == "monthly" and traffic is None:
            continue
        if objective == "throughput" and all(item.result.max_rps_at_slo is None for item in costed):
            continue
        if objective == "per-token" and not all(item.result.llm is not None for item in costed):
            continue
        best = next(
            (item for item in sorted(costed, key=OBJECTIVE_KEYS[objective]) if _eligible(item, objective)),
            None,
        )
        winners[objective] = best.result.candidate.label if best else None
    return winners


def _with_serving(
    item: _Costed, traffic: TrafficProfile, serving: ServingSpec, slo: Slo, prices: PriceLookup | None
) -> _Costed:
    """Add every way of serving the traffic with this candidate (docs/method.md §7)."""
    from infercost.domain.serving import serving_options

    rates = None
    if item.result.candidate.serverless is not None and prices is not None:
        rates = prices.serverless_rates()
    plans: tuple[SavingsPlanRate, ...] = ()
    lookup = getattr(prices, "savings_plan_rates", None)
    if item.price is not None and callable(lookup):
        plans = tuple(lookup(item.result.candidate))
    options = serving_options(
        item.result,
        traffic,
        serving,
        slo,
        price_per_hour_usd=item.price.usd_per_hour if item.price else None,
        serverless_rates=rates,
        savings_plans=plans,
    )
    return dataclasses.replace(item, serving=tuple(options))


def _cost(
    index: int,
    result: CandidateResult,
    prices: PriceLookup | None,
    slo: Slo,
    traffic: TrafficProfile | None,
    max_error_rate: float,
) -> _Costed:
    candidate = result.candidate
    field = f"results[{index}]"
    slo_latency = result.latency_ms.at(slo.percentile)
    if slo_latency is None:
        raise InputError(
            f"missing: the SLO is on {slo.percentile.upper()} but this result has no {slo.percentile} latency",
            field=f"{field}.latency_ms.{slo.percentile}",
            hint=f"add {slo.percentile} to latency_ms, or choose an SLO percentile every result has",
        )
    warnings: list[str] = []
    monthly: MonthlyProjection | None = None
    price: Price | None = None
    basis: PriceBasis | None
    if candidate.serverless is not None:
        if prices is None:
            raise MissingPriceError(
                "no price book to price a serverless candidate", field=f"{field}.candidate"
            )
        rates = _with_field(f"{field}.candidate.serverless", prices.serverless_rates)
        basis, from_snapshot = rates.basis, rates.source == "snapshot"
        request_kb = traffic.request_kb if traffic else 0.0
        response_kb = traffic.response_kb if traffic else 0.0
        cost = costing.serverless_cost_per_100k(
            rates,
            candidate.serverless.memory_mb,
            result.latency_ms.avg,
            request_kb=request_kb,
            response_kb=response_kb,
        )
        # Serverless bills per request: sustained throughput costs the same per inference.
        cost_at_throughput = cost if result.max_rps_at_slo else None
        if traffic is not None:
            monthly = costing.monthly_serverless_projection(
                traffic,
                rates,
                memory_mb=candidate.serverless.memory_mb,
                max_concurrency=candidate.serverless.max_concurrency,
                avg_latency_ms=result.latency_ms.avg,
            )
    else:
        price = _price_of(result, prices, field)
        basis, from_snapshot = price.basis, price.source == "snapshot"
        cost = costing.cost_per_100k_serial(
            price.usd_per_hour, result.latency_ms.avg, candidate.instance_count
        )
        cost_at_throughput = None
        if result.max_rps_at_slo is not None:
            cost_at_throughput = costing.cost_per_100k_at_throughput(
                price.usd_per_hour, result.max_rps_at_slo, candidate.instance_count
            )
        if traffic is not None:
            monthly = costing.monthly_instance_projection(
                traffic,
                price.usd_per_hour,
                avg_latency_ms=result.latency_ms.avg,
                max_rps_at_slo=result.max_rps_at_slo,
                instance_count=candidate.instance_count,
            )
    if candidate.uses_elastic_inference:
        warnings.append(ELASTIC_INFERENCE_WARNING)
    disorder = result.latency_ms.out_of_order()
    if disorder:
        warnings.append(f"latency percentiles out of order: {disorder}")
    if result.errors:
        attempts = max(result.invocations or 0, result.errors)
        warnings.append(
            f"{result.errors} of {attempts} requests failed; latencies describe the successful ones only"
        )
    if result.max_rps_at_slo == 0:
        warnings.append("no concurrency level met the SLO")

    judged = confidence.judge_slo(
        slo.percentile, QUANTILES[slo.percentile], slo_latency, slo.max_latency_ms, result.confidence
    )
    if judged.note:
        warnings.append(judged.note)
    error_rate_ok = result.error_rate <= max_error_rate
    verdict = judged.verdict
    if judged.status != "misses" and not error_rate_ok:
        verdict = f"error rate {result.error_rate:.1%} > {max_error_rate:.0%}"
        judged = replace(judged, status="misses")
    token_miss = token_slo_miss(result.llm)
    if judged.status != "misses" and error_rate_ok and token_miss is not None:
        verdict = token_miss
        judged = replace(judged, status="misses")
    return _Costed(
        index=index,
        result=result,
        price=price,
        basis=basis,
        from_snapshot=from_snapshot,
        cost_per_100k_usd=cost,
        cost_at_throughput_usd=cost_at_throughput,
        slo_latency_ms=slo_latency,
        slo=judged,
        meets_slo=judged.status == "meets",
        verdict=verdict,
        monthly=monthly,
        warnings=tuple(warnings),
    )


def _price_of(result: CandidateResult, prices: PriceLookup | None, field: str) -> Price:
    if result.price_per_hour_usd is not None:
        return Price(
            usd_per_hour=result.price_per_hour_usd,
            source=result.price_source or "results",
            # A result priced from the snapshot before the basis was recorded has none.
            basis=result.price_basis or basis_of_source(result.price_source),
        )
    if prices is None:
        raise MissingPriceError(
            f"no price for {result.candidate.label}",
            field=f"{field}.price_per_hour_usd",
            hint="add price_per_hour_usd to the result or use a price book",
        )
    lookup = prices
    return _with_field(f"{field}.candidate", lambda: lookup.candidate_price(result.candidate))


def _with_field(field: str, lookup: Callable[[], T]) -> T:
    """Run a price lookup; its error is placed under the results path of the candidate."""
    try:
        return lookup()
    except InputError as error:
        located = f"{field}.{error.field}" if error.field else field
        raise type(error)(error.message, field=located, hint=error.hint) from None


def _pareto_front(costed: list[_Costed]) -> set[int]:
    """Indices of candidates no other candidate beats on both cost and SLO latency."""
    front: set[int] = set()
    for item in costed:
        dominated = any(
            other.cost_per_100k_usd <= item.cost_per_100k_usd
            and other.slo_latency_ms <= item.slo_latency_ms
            and (
                other.cost_per_100k_usd < item.cost_per_100k_usd or other.slo_latency_ms < item.slo_latency_ms
            )
            for other in costed
        )
        if not dominated:
            front.add(item.index)
    return front


def _token_cost(item: _Costed) -> float:
    cost = token_costs(
        item.result.llm, item.price.usd_per_hour if item.price else None, item.result.candidate.instance_count
    )[0]
    return cost if cost is not None else math.inf


def _ranked(
    rank: int, item: _Costed, pareto_optimal: bool, traffic: TrafficProfile | None = None
) -> RankedCandidate:
    result = item.result
    price = item.price.usd_per_hour if item.price else None
    per_1m_output, per_1m_input = token_costs(result.llm, price, result.candidate.instance_count)
    return RankedCandidate(
        rank=rank,
        candidate=result.candidate,
        label=result.candidate.label,
        price_per_hour_usd=item.price.usd_per_hour if item.price else None,
        price_source=item.price.source if item.price else "serverless rates",
        price_basis=item.basis,
        cost_per_100k_usd=item.cost_per_100k_usd,
        cost_per_100k_at_throughput_usd=item.cost_at_throughput_usd,
        cost_per_1m_output_tokens_usd=per_1m_output,
        cost_per_1m_input_tokens_usd=per_1m_input,
        llm=result.llm,
        monthly_token_cost_usd=monthly_tokens(traffic, result.llm, price, result.candidate.instance_count),
        max_rps_at_slo=result.max_rps_at_slo,
        latency_ms=result.latency_ms,
        slo_latency_ms=item.slo_latency_ms,
        slo_status=item.slo.status,
        slo_interval_ms=item.slo.interval_ms,
        meets_slo=item.meets_slo,
        slo_verdict=item.verdict,
        pareto_optimal=pareto_optimal,
        monthly=item.monthly,
        errors=result.errors,
        warnings=list(item.warnings),
        image_uri=result.image_uri,
        serving_options=list(item.serving),
        serving_choice=item.best_serving,
        confidence=result.confidence,
    )
