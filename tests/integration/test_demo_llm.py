"""`infercost demo --workload llm` end to end: the real workflow drives streamed generations at
local text-model endpoints, and the candidates carry token metrics and cost per million tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infercost.local.demo import DemoOptions, run_demo
from infercost.local.demo_llm import LLM_DEMO_MODEL

pytestmark = pytest.mark.integration

SHORT_LOAD = {"warmup": 1, "requests": 4, "concurrency": [1, 4], "requests_per_level": 8}


def test_llm_demo_measures_tokens_and_prices_a_million(tmp_path: Path) -> None:
    outcome = run_demo(
        DemoOptions(candidates=3, out=tmp_path, workload="llm", model=LLM_DEMO_MODEL, load=SHORT_LOAD)
    )
    assert outcome.status == "SUCCEEDED", outcome.error
    assert outcome.leftovers == 0 and outcome.endpoints_left == 0
    completed = [c for c in outcome.candidates if c.status == "COMPLETED"]
    assert len(completed) == 3
    for candidate in completed:
        assert candidate.ttft_ms is not None and candidate.itl_ms is not None
        assert set(candidate.ttft_ms) == {"p50", "p90", "p95", "p99", "avg", "max"}
        assert candidate.output_tokens_per_s is not None and candidate.output_tokens_per_s > 0
        assert candidate.price_per_hour_usd is not None
        expected = candidate.price_per_hour_usd / 3600 / candidate.output_tokens_per_s * 1_000_000
        assert candidate.cost_per_1m_output_tokens_usd == pytest.approx(expected, rel=1e-3)
    # Different simulated profiles give different token speeds.
    assert len({round(c.itl_ms["p50"]) for c in completed if c.itl_ms}) > 1
    results = json.loads(Path(str(outcome.results)).read_text())
    assert all(result["llm"]["tokenizer"] == "whitespace" for result in results["results"])
    assert all(result["llm"]["output_tokens"] > 0 for result in results["results"])
