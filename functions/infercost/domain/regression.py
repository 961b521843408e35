"""Regressions: what got worse since the previous successful run of the same model and SLO.

A run is compared with the newest earlier SUCCEEDED run whose SLO is the same (the store's
`previous_successful_run`). Reported, in this order:

- `recommendation_changed`: another configuration is recommended now (or none is);
- `cost_increase`: the recommendation's cost per 100k inferences rose by more than the threshold;
- `monthly_cost_increase`: under the monthly objective, the month of the recommended way to serve
  the traffic rose by more than the threshold (docs/method.md §7);
- `latency_increase`: the recommendation's latency at the SLO percentile rose by more than the
  threshold;
- `previous_winner_misses_slo`: the previously recommended configuration no longer meets the SLO;
- `previous_winner_not_measured`: it was not measured this time (failed, skipped or not listed);
- for streamed (LLM) candidates, `token_cost_increase` (cost per 1M output tokens),
  `ttft_increase` and `itl_increase` (P90 time to first token, inter-token latency).

Cost and latency compare what following the recommendation gives: the current recommendation
against the previous one, whichever configurations they are.

A rise is a regression when it is above the threshold and, where both runs carry confidence
intervals (docs/method.md §8), when the intervals separate: the new interval's low is above the
old one's high. Latency compares the SLO percentile's intervals; cost, proportional to the
average latency, the mean's intervals scaled to cost. Without an interval on either side the
threshold alone decides, and the message says the figures are point estimates. The previous
winner is reported when it now misses the SLO, not when it is uncertain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

from infercost.domain.confidence import DEFAULT_LEVEL, Interval, separated
from infercost.domain.errors import InputError
from infercost.domain.formatting import percent, signed_percent, usd_precise
from infercost.domain.models import Candidate, Slo
from infercost.domain.results import CandidateFailure, RankedCandidate, Recommendation

DEFAULT_THRESHOLD = 0.10

RegressionKind = Literal[
    "recommendation_changed",
    "cost_increase",
    "monthly_cost_increase",
    "latency_increase",
    "previous_winner_misses_slo",
    "previous_winner_not_measured",
    "token_cost_increase",
    "ttft_increase",
    "itl_increase",
]
RegressionUnit = Literal["usd_per_100k", "usd_per_month", "ms", "usd_per_1m_tokens"]


class Regression(BaseModel):
    """One thing that got worse, with a sentence for a person and the numbers behind it."""

    model_config = ConfigDict(frozen=True)

    kind: RegressionKind
    message: str
    previous_candidate: str | None = None
    current_candidate: str | None = None
    unit: RegressionUnit | None = None
    previous_value: float | None = None
    current_value: float | None = None
    change_pct: float | None = None
    threshold_pct: float | None = None
    # The two runs' confidence intervals, when both had one (in `unit`).
    previous_interval: Interval | None = None
    current_interval: Interval | None = None


class RegressionCheck(BaseModel):
    """The outcome of a comparison: the regressions, or why the runs were not compared."""

    model_config = ConfigDict(frozen=True)

    compared: bool
    note: str | None = None
    regressions: list[Regression]


def detect_regressions(
    current: Recommendation,
    previous: Recommendation | None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[Regression]:
    """What got worse since `previous` (empty when there is none, or its SLO or model differs)."""
    return check_regressions(current, previous, threshold=threshold).regressions


def check_regressions(
    current: Recommendation,
    previous: Recommendation | None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
) -> RegressionCheck:
    """Like `detect_regressions`, and says why nothing was compared when that is the case."""
    if not (math.isfinite(threshold) and threshold >= 0):
        raise InputError(
            f"must be a finite fraction of at least 0, got {threshold}",
            field="threshold",
            hint="e.g. 0.10 for 10 %",
        )
    reason = _not_comparable(current, previous)
    was = previous.recommended if previous is not None else None
    if reason is not None or was is None:
        return RegressionCheck(compared=False, note=reason, regressions=[])
    now = current.recommended
    regressions: list[Regression] = []
    if now is None:
        regressions.append(_nothing_recommended(was, current.slo))
    else:
        if now.candidate != was.candidate:
            regressions.append(_changed(was, now))
        regressions.extend(_worse(was, now, current.slo, threshold))
        if current.objective == "monthly":
            regressions.extend(_monthly_worse(was, now, threshold))
    regressions.extend(_previous_winner(was, current))
    return RegressionCheck(compared=True, regressions=regressions)


def _not_comparable(current: Recommendation, previous: Recommendation | None) -> str | None:
    if previous is None:
        return f"No earlier successful run with the SLO {current.slo.describe()} to compare with."
    if previous.model != current.model:
        return f"Not compared: the previous run is of model {previous.model!r}, not {current.model!r}."
    if previous.slo != current.slo:
        return f"Not compared: the SLO changed from {previous.slo.describe()} to {current.slo.describe()}."
    if previous.recommended is None:
        return (
            f"Not compared: the previous run recommended nothing "
            f"(no candidate met {previous.slo.describe()})."
        )
    return None


def _nothing_recommended(was: RankedCandidate, slo: Slo) -> Regression:
    return Regression(
        kind="recommendation_changed",
        message=(
            f"No candidate meets {slo.describe()} any more; the previous recommendation was "
            f"{was.label} at {usd_precise(was.cost_per_100k_usd)} per 100k inferences."
        ),
        previous_candidate=was.label,
        unit="usd_per_100k",
        previous_value=was.cost_per_100k_usd,
    )


def _changed(was: RankedCandidate, now: RankedCandidate) -> Regression:
    change = _change(was.cost_per_100k_usd, now.cost_per_100k_usd)
    cost = f"{usd_precise(was.cost_per_100k_usd)} to {usd_precise(now.cost_per_100k_usd)} per 100k inferences"
    cost += f", {signed_percent(change)}" if change is not None else ""
    return Regression(
        kind="recommendation_changed",
        message=f"The recommendation changed from {was.label} to {now.label} ({cost}).",
        previous_candidate=was.label,
        current_candidate=now.label,
        unit="usd_per_100k",
        previous_value=was.cost_per_100k_usd,
        current_value=now.cost_per_100k_usd,
        change_pct=_as_pct(change),
    )


def _worse(was: RankedCandidate, now: RankedCandidate, slo: Slo, threshold: float) -> list[Regression]:
    on = f"on {now.label}" if now.candidate == was.candidate else f"of the recommendation ({now.label})"
    found: list[Regression] = []
    cost_intervals = _cost_interval(was), _cost_interval(now)
    if (
        _exceeds(was.cost_per_100k_usd, now.cost_per_100k_usd, threshold)
        and separated(*cost_intervals) is not False
    ):
        found.append(
            _increase(
                "cost_increase",
                f"Cost per 100k inferences {on}",
                was,
                now,
                "usd_per_100k",
                (was.cost_per_100k_usd, now.cost_per_100k_usd),
                threshold,
                cost_intervals,
            )
        )
    latency_intervals = was.slo_interval_ms, now.slo_interval_ms
    if (
        _exceeds(was.slo_latency_ms, now.slo_latency_ms, threshold)
        and separated(*latency_intervals) is not False
    ):
        found.append(
            _increase(
                "latency_increase",
                f"{slo.percentile.upper()} latency {on}",
                was,
                now,
                "ms",
                (was.slo_latency_ms, now.slo_latency_ms),
                threshold,
                latency_intervals,
            )
        )
    found.extend(_token_worse(was, now, on, threshold))
    return found


def _token_worse(was: RankedCandidate, now: RankedCandidate, on: str, threshold: float) -> list[Regression]:
    """Streamed candidates: cost per 1M output tokens, P90 TTFT and ITL (docs/method.md §9)."""
    if was.llm is None or now.llm is None:
        return []
    pairs: list[tuple[RegressionKind, str, RegressionUnit, float | None, float | None]] = [
        (
            "token_cost_increase",
            f"Cost per 1M output tokens {on}",
            "usd_per_1m_tokens",
            was.cost_per_1m_output_tokens_usd,
            now.cost_per_1m_output_tokens_usd,
        ),
        ("ttft_increase", f"P90 time to first token {on}", "ms", was.llm.ttft_ms.p90, now.llm.ttft_ms.p90),
        ("itl_increase", f"P90 inter-token latency {on}", "ms", was.llm.itl_ms.p90, now.llm.itl_ms.p90),
    ]
    return [
        _increase(kind, subject, was, now, unit, (before, after), threshold, (None, None))
        for kind, subject, unit, before, after in pairs
        if before is not None and after is not None and _exceeds(before, after, threshold)
    ]


def _monthly_worse(was: RankedCandidate, now: RankedCandidate, threshold: float) -> list[Regression]:
    """Under the monthly objective: the month of the recommended way to serve the traffic rose."""
    before = was.serving_choice.monthly_cost_usd if was.serving_choice else None
    after = now.serving_choice.monthly_cost_usd if now.serving_choice else None
    if before is None or after is None or not _exceeds(before, after, threshold):
        return []
    change = _change(before, after)
    modes = f"{was.serving_choice.mode if was.serving_choice else ''} → {now.serving_choice.mode if now.serving_choice else ''}"
    return [
        Regression(
            kind="monthly_cost_increase",
            message=(
                f"The month of serving the traffic rose {signed_percent(change)}, from {usd_precise(before)} "
                f"({was.label}) to {usd_precise(after)} ({now.label}; {modes}; threshold {percent(threshold)})."
            ),
            previous_candidate=was.label,
            current_candidate=now.label,
            unit="usd_per_month",
            previous_value=before,
            current_value=after,
            change_pct=_as_pct(change),
            threshold_pct=threshold * 100,
        )
    ]


def _cost_interval(item: RankedCandidate) -> Interval | None:
    """The cost's interval: cost per 100k is proportional to the average latency (docs/method.md 4.1)."""
    mean = item.confidence.mean_ms if item.confidence is not None else None
    average = item.latency_ms.avg
    if mean is None or average <= 0:
        return None
    return item.cost_per_100k_usd * mean[0] / average, item.cost_per_100k_usd * mean[1] / average


def _increase(
    kind: RegressionKind,
    subject: str,
    was: RankedCandidate,
    now: RankedCandidate,
    unit: RegressionUnit,
    values: tuple[float, float],
    threshold: float,
    intervals: tuple[Interval | None, Interval | None],
) -> Regression:
    before, after = values
    show = _ms if unit == "ms" else usd_precise
    change = _change(before, after)
    rose = f"rose {change * 100:.1f} %" if change is not None else "rose"
    old, new = intervals
    compared = old is not None and new is not None
    if old is not None and new is not None:
        level = now.confidence.level if now.confidence is not None else DEFAULT_LEVEL
        evidence = f"{level * 100:g} % intervals apart: {_interval(old, show)} then {_interval(new, show)}"
    else:
        evidence = "point estimates: no interval to compare"
    return Regression(
        kind=kind,
        message=(
            f"{subject} {rose}, from {show(before)} to {show(after)} "
            f"(threshold {percent(threshold)}; {evidence})."
        ),
        previous_candidate=was.label,
        current_candidate=now.label,
        unit=unit,
        previous_value=before,
        current_value=after,
        change_pct=_as_pct(change),
        threshold_pct=threshold * 100,
        previous_interval=old if compared else None,
        current_interval=new if compared else None,
    )


def _interval(interval: Interval, show: Callable[[float], str]) -> str:
    low, high = interval
    return f"{show(low) if low is not None else '?'} to {show(high) if high is not None else '∞'}"


def _previous_winner(was: RankedCandidate, current: Recommendation) -> list[Regression]:
    again = _find(current.ranked, was.candidate)
    if again is None:
        failure = _find_failure(current.failures, was.candidate)
        why = (
            f"it {failure.status.lower()}: {failure.error}"
            if failure is not None
            else "it was not among the candidates"
        )
        return [
            Regression(
                kind="previous_winner_not_measured",
                message=f"{was.label}, the previous recommendation, was not measured this time ({why}).",
                previous_candidate=was.label,
                unit="ms",
                previous_value=was.slo_latency_ms,
            )
        ]
    if again.slo_status != "misses":
        return []
    change = _change(was.slo_latency_ms, again.slo_latency_ms)
    went = f"{_ms(was.slo_latency_ms)} to {_ms(again.slo_latency_ms)}"
    went += f", {signed_percent(change)}" if change is not None else ""
    return [
        Regression(
            kind="previous_winner_misses_slo",
            message=(
                f"{was.label}, the previous recommendation, no longer meets "
                f"{current.slo.describe()}: its {current.slo.percentile.upper()} latency went "
                f"from {went}."
            ),
            previous_candidate=was.label,
            current_candidate=again.label,
            unit="ms",
            previous_value=was.slo_latency_ms,
            current_value=again.slo_latency_ms,
            change_pct=_as_pct(change),
        )
    ]


def _find(ranked: list[RankedCandidate], candidate: Candidate) -> RankedCandidate | None:
    return next((entry for entry in ranked if entry.candidate == candidate), None)


def _find_failure(failures: list[CandidateFailure], candidate: Candidate) -> CandidateFailure | None:
    return next((entry for entry in failures if entry.candidate == candidate), None)


def _change(before: float, after: float) -> float | None:
    """Relative change (0.1 = 10 % more); None when `before` is 0 and no ratio exists."""
    return (after - before) / before if before > 0 else None


def _exceeds(before: float, after: float, threshold: float) -> bool:
    change = _change(before, after)
    if change is None:
        return after > before
    return change > threshold


def _as_pct(change: float | None) -> float | None:
    return None if change is None else change * 100


def _ms(value: float) -> str:
    return f"{value:,.1f} ms" if value >= 1 else f"{value:.3g} ms"


__all__ = [
    "DEFAULT_THRESHOLD",
    "Regression",
    "RegressionCheck",
    "RegressionKind",
    "check_regressions",
    "detect_regressions",
]
