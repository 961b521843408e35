"""The concurrency sweep shared by several workers: each worker's share, and their exact merge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from infercost.domain.errors import InputError
from infercost.domain.models import (
    LoadPlan,
    Slo,
)

if TYPE_CHECKING:
    pass
from infercost.measurement.results import LevelResult, merge_level_results, slo_breach


@dataclass(frozen=True)
class SweepStep:
    """One sweep level as one worker runs it: its share of the level's connections and requests."""

    level: int
    concurrency: int
    requests: int


def sweep_share(plan: LoadPlan, workers: int, index: int) -> list[SweepStep]:
    """Worker `index`'s share of every sweep level (levels with fewer connections than workers
    are run by the first workers only). The shares of a level add up to the level."""
    if workers < 1 or not 0 <= index < workers:
        raise InputError(f"worker {index} of {workers} does not exist", field="worker")
    per_level = plan.requests_per_level or plan.requests
    steps = []
    for level in (level for level in plan.concurrency if level > 1):
        concurrency = share_of(level, workers, index)
        if concurrency:
            requests = max(1, round(per_level * concurrency / level))
            steps.append(SweepStep(level, concurrency, requests))
    return steps


def share_of(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


class SweepShare(BaseModel):
    """What one worker of a fanned-out sweep measured: its share of each level it reached."""

    model_config = ConfigDict(frozen=True)

    worker: int = Field(ge=0)
    workers: int = Field(ge=1)
    levels: list[int] = Field(default_factory=list, description="the whole level of each sweep entry")
    sweep: list[LevelResult] = Field(default_factory=list)
    partial: bool = False
    notes: list[str] = Field(default_factory=list)
    first_request_ms: float | None = Field(default=None, description="this worker's first warm-up request")


@dataclass
class Sweep:
    """A concurrency sweep's levels, what stopped it, and whether the time budget cut it short."""

    levels: list[LevelResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    partial: bool = False
    abandoned: int = 0
    # The slowest of the workers' first requests: the endpoint's first requests were theirs.
    first_request_ms: float | None = None


def merge_sweep_shares(shares: Sequence[SweepShare], plan: LoadPlan, slo: Slo | None) -> Sweep:
    """Merge the workers' shares level by level (sketches merge exactly, rates add).

    The merged sweep ends where it would have ended on one machine: after the first level that
    misses the SLO or the error budget, or before the first level a worker did not reach.
    """
    if not shares:
        raise ValueError("nothing to merge")
    workers = shares[0].workers
    merged = Sweep(notes=[f"sweep driven by {workers} workers at once, merged level by level"])
    for share in shares:
        merged.notes.extend(f"worker {share.worker}: {note}" for note in share.notes)
        merged.partial = merged.partial or share.partial
    firsts = [share.first_request_ms for share in shares if share.first_request_ms is not None]
    merged.first_request_ms = max(firsts) if firsts else None
    for level in (level for level in plan.concurrency if level > 1):
        expected = min(workers, level)
        parts = [s.sweep[s.levels.index(level)] for s in shares if level in s.levels]
        if len(parts) < expected:
            merged.notes.append(
                f"sweep ends before concurrency {level}: {expected - len(parts)} of {expected} workers "
                "did not run it"
            )
            break
        result = merge_level_results(parts)
        previous = merged.levels[-1] if merged.levels else None
        merged.levels.append(result)
        if ends_sweep(result, plan, slo, merged.notes, previous):
            break
    return merged


# An LLM sweep stops once a level adds less than this share of output-token goodput: past the
# endpoint's saturation more concurrency only queues (docs/method.md §9).
SATURATION_GAIN = 0.05


def ends_sweep(
    level: LevelResult,
    plan: LoadPlan,
    slo: Slo | None,
    notes: list[str],
    previous: LevelResult | None = None,
) -> bool:
    """Whether the sweep stops after `level` (error budget, a saturated client, the SLO missed, or
    an LLM endpoint past saturation); says why in `notes`."""
    if level.error_rate > plan.max_error_rate:
        notes.append(
            f"sweep stopped at concurrency {level.concurrency}: {level.describe_errors()} "
            f"exceeds the {plan.max_error_rate:.0%} error budget"
        )
        return True
    if level.client_bound:
        notes.append(
            f"sweep stopped at concurrency {level.concurrency}: the load client was saturated "
            f"({level.describe_client()}), so this level measured the client, not the model; "
            "the model's limit lies above it (raise load.workers to spread the load)"
        )
        return True
    breach = (
        slo_breach(level, slo)
        if slo is not None
        else level.llm.breach(level.latency_ms, level.concurrency)
        if level.llm is not None
        else None
    )
    if breach is not None:
        notes.append(f"sweep stopped: {breach}")
        return True
    if level.llm is not None and previous is not None and previous.llm is not None:
        before, now = previous.llm.output_tokens_per_s, level.llm.output_tokens_per_s
        if now < before * (1 + SATURATION_GAIN):
            notes.append(
                f"sweep stopped past saturation: concurrency {level.concurrency} gave {now:.1f} output "
                f"tokens/s of goodput, concurrency {previous.concurrency} {before:.1f}"
            )
            return True
    if level.errors:
        notes.append(f"concurrency {level.concurrency}: {level.describe_errors()}")
    return False
