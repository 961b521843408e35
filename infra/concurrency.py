"""Reserved concurrency: each function may run at most what the workflow can run of it at once.

A function with reserved concurrency keeps that many executions for itself and never runs more
(https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), so a burst of
uploads queues behind its own functions (the workflow retries Lambda.TooManyRequestsException)
instead of taking the account's shared concurrency from everything else. AWS keeps at least 100
executions unreserved: "You can reserve up to the Unreserved account concurrency value that is
shown, minus 100 for functions that don't have reserved concurrency" (same page). The account
limit is 1,000 by default, lower in new accounts
(https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html), and cannot be read
at synth, hence a ceiling the deployer sets, 900 by default.

The formula, the one place it is written (docs/deploy.md repeats it):

    runs        = infercost:max_concurrent_runs
    candidates  = runs × infercost:max_concurrency      (the candidate Map's MaxConcurrency)
    workers     = candidates × infercost:max_sweep_workers (LoadWorkers of one sweep)
"""

from __future__ import annotations

from enum import Enum

from infercost.domain.errors import InputError
from infra.config import StackConfig


class FanOut(Enum):
    """How many executions of a function one evaluation can have at once."""

    RUN = "one per run"
    CANDIDATE = "one per candidate benchmarked at once"
    SWEEP_WORKER = "one per sweep worker of each candidate"
    # The janitor sweeps each run (sweep and failure path) and runs on its schedule.
    RUN_AND_SCHEDULE = "one per run, plus the schedule"


def reserved_concurrency(fan_out: FanOut, config: StackConfig) -> int:
    """The executions to reserve for a function of this fan-out."""
    runs = config.max_concurrent_runs
    candidates = runs * config.max_concurrency
    return {
        FanOut.RUN: runs,
        FanOut.CANDIDATE: candidates,
        FanOut.SWEEP_WORKER: candidates * config.max_sweep_workers,
        FanOut.RUN_AND_SCHEDULE: runs + 1,
    }[fan_out]


def check_total(reserved: dict[str, int], config: StackConfig) -> int:
    """The sum of `reserved` (function -> executions); an InputError above the ceiling."""
    total = sum(reserved.values())
    if total > config.reserved_concurrency_ceiling:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(reserved.items(), key=lambda i: -i[1]))
        raise InputError(
            f"the functions would reserve {total} concurrent executions ({parts}), more than "
            f"{config.reserved_concurrency_ceiling}",
            field="infercost:reserved_concurrency_ceiling",
            hint=(
                "lower infercost:max_concurrent_runs, infercost:max_concurrency or "
                "infercost:max_sweep_workers; raise the ceiling only as far as the account's "
                "Lambda concurrency limit minus the 100 AWS keeps unreserved"
            ),
        )
    return total
