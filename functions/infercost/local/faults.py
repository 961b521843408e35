"""Fault injection for the local stack: one named failure at one step, for tests and the demo.

Each point makes a real step fail the way AWS would, through the same code paths a deployed
run takes, so the tests and `infercost demo --fail-at POINT` prove that nothing is left running.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from infercost.domain.errors import InputError

# point -> what it does (shown by `infercost demo --help` and in errors)
FAULT_POINTS: dict[str, str] = {
    "create-endpoint": "CreateEndpoint of the target candidate fails (account quota exceeded)",
    "throttle-create-endpoint": "CreateEndpoint of the target candidate is throttled once",
    "endpoint-failed": "the target candidate's endpoint ends in Failed, with container log lines",
    "load-worker": "a LoadWorker of the target candidate's fanned-out sweep raises",
    "load-test": "LoadTest of the target candidate raises",
    "collect-metrics": "CollectMetrics of the target candidate raises",
    "teardown-once": "the target candidate's first DeleteEndpoint fails; the retry succeeds",
    "stuck-creating": (
        "the target candidate's endpoint stays Creating past every deadline (SageMaker refuses to "
        "delete it); once it settles, the scheduled janitor deletes it"
    ),
    "recommend": "Recommend raises (after every endpoint is gone)",
    "no-quota": "the target candidate's instance type has no endpoint quota left",
}
# Points that fire once; the others fire every time they are reached.
ONCE = frozenset({"throttle-create-endpoint", "teardown-once"})
# States whose Lambda invocation a fault point makes raise.
STATE_FAULTS = {
    "LoadWorker": "load-worker",
    "LoadTest": "load-test",
    "CollectMetrics": "collect-metrics",
    "Recommend": "recommend",
}

_INDEX = re.compile(r"-[0-9a-f]{10}-(\d{2})(?:-|$)")


class InjectedFault(RuntimeError):
    """The failure a fault point injects into a Lambda handler (its errorType in Step Functions)."""


def candidate_index(resource_name: str) -> int | None:
    """The candidate index in a resource name '<prefix>-<run id>-<nn>-<slug>'."""
    match = _INDEX.search(resource_name)
    return int(match.group(1)) if match else None


@dataclass
class Faults:
    """The fault points switched on, and for which candidate (by its index in the spec)."""

    points: frozenset[str] = frozenset()
    target_index: int = 0
    fired: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, points: Iterable[str] | str | None, *, target_index: int = 0) -> Faults:
        """Faults from names; an unknown name is an InputError listing the valid ones."""
        names = [points] if isinstance(points, str) else list(points or [])
        unknown = [name for name in names if name not in FAULT_POINTS]
        if unknown:
            raise InputError(
                f"unknown fault point {unknown[0]!r}",
                field="--fail-at",
                hint=f"one of {', '.join(FAULT_POINTS)}",
            )
        return cls(points=frozenset(names), target_index=target_index)

    def fires(self, point: str, index: int | None) -> bool:
        """Whether `point` fails now for the candidate `index` (and count it if so)."""
        if point not in self.points or index != self.target_index:
            return False
        with self._lock:
            if point in ONCE and self.fired[point]:
                return False
            self.fired[point] += 1
            return True

    def fires_for_run(self, point: str) -> bool:
        """Whether a run-level point (not tied to a candidate) fails now."""
        return self.fires(point, self.target_index)
