"""`infercost demo --workload llm`: the demo's LLM evaluation (docs/method.md §9).

Four GPU and Inferentia candidates whose local endpoints run the deterministic streaming text
generator (local/text_model.py) with different declared speeds; prompts inline, tokens counted
with the built-in whitespace tokenizer, SLOs on time to first token and inter-token latency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infercost.domain.hardware import EXAMPLE_IMAGES

LLM_DEMO_MODEL = "tiny-textgen"

# Different simulated profiles (local/text_model.py): a batching GPU, a newer GPU, Inferentia, an
# older GPU that misses the TTFT bound under load.
LLM_DEMO_CANDIDATES: tuple[Mapping[str, Any], ...] = (
    {"instance_type": "ml.g5.xlarge"},
    {"instance_type": "ml.g6e.xlarge"},
    {"instance_type": "ml.inf2.xlarge"},
    {"instance_type": "ml.g4dn.xlarge"},
)

LLM_DEMO_PROMPTS = (
    "Summarise the benefits of measuring before choosing an instance.",
    "Write a haiku about latency.",
    "Explain time to first token in one sentence.",
    "What does an endpoint cost when it is idle?",
    "List three ways to serve a model more cheaply.",
    "Why do percentiles matter more than averages?",
)

# Short generations: a run of seconds that still sweeps past saturation, with enough measured
# requests (40) for a confidence interval to bound P90 from above (docs/method.md §8).
LLM_DEMO_LOAD: dict[str, Any] = {
    "warmup": 2,
    "requests": 40,
    "concurrency": [1, 4, 8, 16],
    "requests_per_level": 16,
}

LLM_DEMO_WORKLOAD: dict[str, Any] = {
    "kind": "llm",
    "prompts": list(LLM_DEMO_PROMPTS),
    "max_new_tokens": 12,
    "tokenizer": "whitespace",
    "slo": [
        {"metric": "ttft", "percentile": "p90", "max_ms": 400},
        {"metric": "itl", "percentile": "p90", "max_ms": 40},
    ],
}


def llm_demo_spec(
    count: int = len(LLM_DEMO_CANDIDATES),
    *,
    model: str = LLM_DEMO_MODEL,
    load: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The LLM demo's evaluation spec: the first `count` of its candidates (at most four)."""
    return {
        "model": {"name": model, "images": dict(EXAMPLE_IMAGES)},
        "workload": dict(LLM_DEMO_WORKLOAD),
        "candidates": [dict(c) for c in LLM_DEMO_CANDIDATES[: max(1, min(count, len(LLM_DEMO_CANDIDATES)))]],
        # End to end: a whole generation of 12 tokens.
        "slo": {"percentile": "p90", "max_latency_ms": 2000},
        "load": dict(load or LLM_DEMO_LOAD),
        "max_benchmark_cost_usd": 5.0,
    }
