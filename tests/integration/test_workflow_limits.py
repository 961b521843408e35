"""The real definitions at the spec's maxima stay inside Step Functions' uncatchable limits.

Two limits end an execution without any Catch running (no failure recorded, nothing notified,
the run left RUNNING): 256 KB for any state's input or output (`States.DataLimitExceeded`) and
25,000 events of history per execution. The local stack executes the real definitions; these
tests read the execution histories it keeps and hold every payload under 200 KB and every
history, extrapolated to the spec's maxima, under 20,000 events.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infercost.domain.containers import ENVIRONMENT_MAX_ITEM_BYTES, ENVIRONMENT_MAX_TOTAL_BYTES
from infercost.domain.hardware import EXAMPLE_IMAGES
from infercost.domain.models import EvaluationSpec, LoadPlan
from infercost.domain.workflow import MAX_ENDPOINT_POLLS
from infercost.local.model_server import sample_payload
from infercost.local.stack import EmbeddedStack
from infercost.steps.prepare import MAX_INLINE_PAYLOAD_BYTES
from tests.integration.workflow_support import assert_nothing_left, describe, run_of

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

PAYLOAD_LIMIT_BYTES = 200 * 1024
HISTORY_LIMIT_EVENTS = 20_000
MAX_CANDIDATES = EvaluationSpec.model_fields["candidates"].metadata[0].max_length
MAX_WORKERS = next(m.le for m in LoadPlan.model_fields["workers"].metadata if hasattr(m, "le"))
# Polls of the endpoint's creation in the probe that measures them (the others poll once).
POLLING_PROBE = 3


def largest_body() -> str:
    """The largest request body a spec may carry inline: JSON rows for the local model."""
    rows = 1
    while len(sample_payload(rows * 2)) <= MAX_INLINE_PAYLOAD_BYTES:
        rows *= 2
    while len(sample_payload(rows + 1)) <= MAX_INLINE_PAYLOAD_BYTES:
        rows += 1
    return sample_payload(rows).decode()


def largest_environment() -> dict[str, str]:
    """Container variables that fill SageMaker's 32 KB, each value at its 1,024-byte maximum."""
    value = "x" * ENVIRONMENT_MAX_ITEM_BYTES
    environment: dict[str, str] = {}
    while (
        sum(len(k) + len(v) for k, v in environment.items()) + 8 + len(value) <= ENVIRONMENT_MAX_TOTAL_BYTES
    ):
        environment[f"VAR_{len(environment):04d}"] = value
    return environment


def spec(model: str, candidates: list[dict[str, Any]], load: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": {"name": model, "images": dict(EXAMPLE_IMAGES), "environment": largest_environment()},
        "payload": {"content_type": "application/json", "body": largest_body()},
        "candidates": candidates,
        "slo": {"percentile": "p90", "max_latency_ms": 500},
        "load": load,
    }


@dataclass(frozen=True)
class Probe:
    """One evaluation's histories: its run execution's, and each candidate execution's."""

    run: list[dict[str, Any]]
    candidates: list[list[dict[str, Any]]]

    def events(self) -> Iterator[dict[str, Any]]:
        yield from self.run
        for history in self.candidates:
            yield from history


@pytest.fixture(scope="module")
def probes() -> Iterator[dict[str, Probe]]:
    """Three evaluations with the largest body and environment: the most candidates; one
    candidate with the most sweep workers; one candidate whose endpoint takes several polls."""
    one = [{"instance_type": "ml.c5.large"}]
    many = [
        {"instance_type": kind, "instance_count": count}
        for kind in ("ml.c5.large", "ml.m5.large")
        for count in range(1, MAX_CANDIDATES // 2 + 1)
    ]
    serial = {"warmup": 0, "requests": 1, "concurrency": [1]}
    swept = {
        "warmup": 0,
        "requests": 1,
        "concurrency": [1, MAX_WORKERS],
        "requests_per_level": MAX_WORKERS,
        "workers": MAX_WORKERS,
    }
    runs = {
        "most candidates": (spec("limits-candidates", many, serial), 1),
        "most workers": (spec("limits-workers", one, swept), 1),
        "several polls": (spec("limits-polls", one, serial), POLLING_PROBE),
    }
    found: dict[str, Probe] = {}
    with EmbeddedStack(timing={"max_concurrency": 10}) as stack:
        assert stack.runtime is not None
        for name, (body, polls) in runs.items():
            stack.runtime.polls_until_ready = polls
            model = body["model"]["name"]
            (execution,) = stack.evaluate(f"models/{model}/model.tar.gz", spec=body, timeout_s=600)
            assert execution["status"] == "SUCCEEDED", describe(execution)
            assert {c.status for c in run_of(stack, model).candidates} == {"COMPLETED"}
            children = stack.candidate_executions(execution["executionArn"])
            assert len(children) == len(body["candidates"])
            found[name] = Probe(
                run=stack.history(execution["executionArn"]),
                candidates=[stack.history(child["executionArn"]) for child in children],
            )
        assert_nothing_left(stack)
    yield found


def payload_sizes(events: Iterator[dict[str, Any]]) -> Iterator[tuple[int, str]]:
    """(bytes, what) of every state input, state output, task parameters and task result."""
    for event in events:
        for key, details in event.items():
            if not key.endswith("EventDetails") or not isinstance(details, dict):
                continue
            for field in ("input", "output", "parameters"):
                if isinstance(details.get(field), str):
                    name = details.get("name") or details.get("resource") or event["type"]
                    yield len(details[field].encode("utf-8")), f"{event['type']} {name} {field}"


def test_the_probes_carry_the_specs_largest_body_and_environment() -> None:
    assert MAX_INLINE_PAYLOAD_BYTES - 200 < len(largest_body().encode()) <= MAX_INLINE_PAYLOAD_BYTES
    environment = largest_environment()
    size = sum(len(k) + len(v) for k, v in environment.items())
    assert ENVIRONMENT_MAX_TOTAL_BYTES - ENVIRONMENT_MAX_ITEM_BYTES - 10 < size <= ENVIRONMENT_MAX_TOTAL_BYTES
    assert (MAX_CANDIDATES, MAX_WORKERS) == (50, 32)


@pytest.mark.parametrize("probe", ["most candidates", "most workers", "several polls"])
def test_no_state_input_or_output_comes_near_256_kb(probes: dict[str, Probe], probe: str) -> None:
    sizes = sorted(payload_sizes(probes[probe].events()), reverse=True)
    largest, what = sizes[0]
    # Every candidate's input carries the 32 KB body and the 32 KB environment once, no more.
    assert largest > 64 * 1024, (largest, what)
    assert largest <= PAYLOAD_LIMIT_BYTES, f"{what}: {largest} bytes"
    print(f"\n{probe}: largest payload {largest} bytes ({what})")


def test_the_run_collects_a_small_summary_per_candidate(probes: dict[str, Probe]) -> None:
    # The Map's collected results count against 256 KB too, even with ResultPath null.
    history = probes["most candidates"].run
    (ended,) = [e for e in history if e["type"] == "MapStateExited"]
    exited = next(
        e
        for e in history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "EvaluateCandidate"
    )
    summary = json.loads(exited["stateExitedEventDetails"]["output"])
    assert set(summary) == {"index", "name", "status"}
    assert len(ended["stateExitedEventDetails"]["output"].encode()) <= PAYLOAD_LIMIT_BYTES


def test_histories_stay_far_below_25000_events_at_the_specs_maxima(probes: dict[str, Probe]) -> None:
    few, many, polls = probes["most workers"], probes["most candidates"], probes["several polls"]
    # The run: measured at the most candidates the spec allows, and its growth per candidate.
    per_candidate = (len(many.run) - len(few.run)) / (MAX_CANDIDATES - 1)
    assert len(many.run) < HISTORY_LIMIT_EVENTS and per_candidate < 15
    # One candidate: its base, what each extra DescribeEndpoint poll and each sweep worker adds.
    base = len(many.candidates[0])
    per_poll = (len(polls.candidates[0]) - base) / (POLLING_PROBE - 1)
    per_worker = (len(few.candidates[0]) - base) / (MAX_WORKERS - 1)
    assert 5 <= per_poll <= 15 and 3 <= per_worker <= 12, (per_poll, per_worker)
    worst = base + per_poll * (MAX_ENDPOINT_POLLS - 1) + per_worker * (MAX_WORKERS - 1)
    assert worst < HISTORY_LIMIT_EVENTS, (
        f"a candidate at {MAX_ENDPOINT_POLLS} polls and {MAX_WORKERS} workers: {worst:.0f} events "
        f"(base {base}, {per_poll:.1f} per poll, {per_worker:.1f} per worker)"
    )
    print(
        f"\nhistory: run {len(few.run)} events with 1 candidate, {len(many.run)} with {MAX_CANDIDATES} "
        f"({per_candidate:.1f} per candidate); candidate base {base}, {per_poll:.1f} per poll, "
        f"{per_worker:.1f} per worker, worst {worst:.0f} at {MAX_ENDPOINT_POLLS} polls x {MAX_WORKERS} workers"
    )
