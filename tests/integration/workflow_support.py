"""Helpers of the workflow integration tests: specs, and what must hold after every run."""

from __future__ import annotations

import json
from typing import Any

from infercost.domain.hardware import EXAMPLE_IMAGES
from infercost.local.model_server import sample_payload
from infercost.local.stack import EmbeddedStack

IMAGE = EXAMPLE_IMAGES["cpu"]
# Small loads keep each execution to seconds; the sweep still runs where a test asks for it.
# SWEEP_LOAD's 40 measured requests are enough to bound a P90 (36 are: docs/method.md §8), so
# its runs can recommend; QUICK_LOAD's 12 cannot, and say "uncertain".
QUICK_LOAD = {"warmup": 2, "requests": 12, "concurrency": [1]}
SWEEP_LOAD = {"warmup": 2, "requests": 40, "concurrency": [1, 2], "requests_per_level": 12}
NOTHING = {"endpoints": [], "endpoint_configs": [], "models": [], "model_servers": []}


def spec(
    model: str,
    candidates: list[dict[str, Any]],
    *,
    load: dict[str, Any] | None = None,
    slo_ms: float = 200,
    **extra: Any,
) -> dict[str, Any]:
    """An evaluation spec for the local model server (JSON rows of 16 features)."""
    return {
        "model": {"name": model, "images": dict(EXAMPLE_IMAGES)},
        "payload": {"content_type": "application/json", "body": sample_payload().decode()},
        "candidates": candidates,
        "slo": {"percentile": "p90", "max_latency_ms": slo_ms},
        "load": load or QUICK_LOAD,
        **extra,
    }


def run_of(stack: EmbeddedStack, model: str) -> Any:
    """The model's only run, with its candidates (asserts there is exactly one)."""
    runs = stack.store.history(model)
    assert len(runs) == 1, f"expected one run of {model}, found {len(runs)}"
    view = stack.store.get_run_by_key(runs[0].key)
    assert view is not None
    return view


def assert_nothing_left(stack: EmbeddedStack) -> None:
    """No endpoint, endpoint config or model exists, and no local model server runs."""
    assert stack.leftovers() == NOTHING


def failed_events(stack: EmbeddedStack, execution_arn: str) -> list[str]:
    """'<event type> <error>' of each failure in the run's histories (its execution's and its
    candidate executions')."""
    found = []
    for event in stack.run_history(execution_arn):
        if "Failed" in event["type"]:
            details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            found.append(f"{event['type']} {details.get('error')}: {str(details.get('cause'))[:300]}")
    return found


def describe(execution: dict[str, Any]) -> str:
    return json.dumps({k: execution.get(k) for k in ("status", "error", "cause")}, default=str)[:800]
