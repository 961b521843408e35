"""Recommend: cost and rank what a run measured, compare with the previous run, record both."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from infercost.data.store import ResultsStore
from infercost.domain.prices import PriceLookup
from infercost.domain.workflow import (
    RunRef,
)

if TYPE_CHECKING:  # loadgen is imported where it is used (cold start of the other steps)
    pass
from infercost.steps.common import StepSummary, results_of, run_key, run_view, stored_spec


class RecommendSummary(StepSummary):
    recommended: str | None
    reason: str


def recommend_run(run: RunRef, *, store: ResultsStore, prices: Callable[[], PriceLookup]) -> RecommendSummary:
    """Cost and rank what was measured, compare with the previous run, record both."""
    from infercost.domain.recommend import recommend
    from infercost.domain.regression import detect_regressions

    view = run_view(store, run)
    spec = stored_spec(view)
    results_file = results_of(view)
    recommendation = recommend(
        results_file,
        prices(),
        slo=spec.slo,
        traffic=results_file.traffic,
        max_error_rate=spec.load.max_error_rate,
        price_note=view.run.price_note,
    )
    if view.run.traffic_note:
        # Prepare could not read the endpoint's traffic: the recommendation says why it has no
        # monthly projection.
        recommendation = recommendation.model_copy(
            update={"warnings": [*recommendation.warnings, view.run.traffic_note]}
        )
    previous = store.previous_successful_run(run.model, run_key(run), spec.slo)
    regressions = detect_regressions(recommendation, previous.parsed_recommendation() if previous else None)
    costs = [c.benchmark_cost_usd for c in view.candidates if c.benchmark_cost_usd is not None]
    seconds = [c.endpoint_seconds for c in view.candidates if c.endpoint_seconds is not None]
    store.update_run(
        run_key(run),
        recommendation=recommendation,
        regressions=[r.model_dump(mode="json") for r in regressions],
        benchmark_cost_usd=sum(costs) if costs else None,
        endpoint_seconds=sum(seconds) if seconds else None,
    )
    winner = recommendation.recommended
    return RecommendSummary(recommended=winner.label if winner else None, reason=recommendation.reason)
