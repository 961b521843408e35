"""LLM workloads on the real state machine: bad prompts or tokenizers refuse the run with one line
naming the field, a candidate whose streams break fails with the cause (nothing left running),
and a tokenizer.json from the bucket counts the tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infercost.domain.hardware import EXAMPLE_IMAGES
from infercost.local.demo import model_artifact
from infercost.local.stack import EmbeddedStack

from .workflow_support import assert_nothing_left, failed_events, run_of

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
LOAD = {"warmup": 1, "requests": 3, "concurrency": [1, 2], "requests_per_level": 4}


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    with EmbeddedStack(slack=False) as running:
        yield running
    assert running.leaked_servers == []


def spec(model: str, workload: dict[str, Any], candidates: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "model": {"name": model, "images": dict(EXAMPLE_IMAGES)},
        "workload": {"kind": "llm", "max_new_tokens": 6, **workload},
        "candidates": candidates,
        "slo": {"percentile": "p90", "max_latency_ms": 5000},
        "load": LOAD,
    }


def evaluate(
    stack: EmbeddedStack, model: str, body: dict[str, Any], files: dict[str, bytes]
) -> dict[str, Any]:
    before = {e["executionArn"] for e in stack.executions()}
    stack.upload_model(
        f"models/{model}/model.tar.gz", spec=body, artifact=model_artifact(model, "llm"), files=files
    )
    (execution,) = stack.wait_for_new(before, timeout_s=90)
    return execution


def test_prompts_that_are_not_jsonl_refuse_the_run_naming_the_field(stack: EmbeddedStack) -> None:
    body = spec(
        "llm-badprompts",
        {"prompts": "models/llm-badprompts/prompts.jsonl"},
        [{"instance_type": "ml.g5.xlarge"}],
    )
    execution = evaluate(stack, "llm-badprompts", body, {"prompts.jsonl": b'"fine"\n{not json\n'})
    assert execution["status"] == "FAILED"
    view = run_of(stack, "llm-badprompts")
    assert view.run.error.startswith("workload.prompts: line 2 of s3://")
    assert "\n" not in view.run.error
    assert stack.runtime is not None and not any(
        "llm-badprompts" in name for name in stack.leftovers()["endpoints"]
    )
    assert_nothing_left(stack)


def test_a_tokenizer_that_does_not_parse_refuses_the_run(stack: EmbeddedStack) -> None:
    body = spec(
        "llm-badtok",
        {"prompts": ["hello"], "tokenizer": "models/llm-badtok/tokenizer.json"},
        [{"instance_type": "ml.g5.xlarge"}],
    )
    execution = evaluate(stack, "llm-badtok", body, {"tokenizer.json": b'{"model": '})
    assert execution["status"] == "FAILED"
    assert run_of(stack, "llm-badtok").run.error.startswith(
        "workload.tokenizer: models/llm-badtok/tokenizer.json"
    )
    assert_nothing_left(stack)


def test_broken_streams_fail_that_candidate_and_a_tokenizer_json_counts(stack: EmbeddedStack) -> None:
    model = "llm-mixed"
    # Not a .tar.gz key: an upload under models/ ending in .tar.gz would start a run of its own.
    broken = f"models/{model}/broken-model.tgz"
    stack.put_object(broken, model_artifact(model, "llm", cut_after_tokens=2))
    body = spec(
        model,
        {"prompts": ["hello world", "hello, tokens!"], "tokenizer": f"models/{model}/tokenizer.json"},
        [
            {"instance_type": "ml.g5.xlarge", "container": {"model_data_key": broken}},
            {"instance_type": "ml.g6e.xlarge"},
        ],
    )
    execution = evaluate(
        stack, model, body, {"tokenizer.json": (FIXTURES / "tokenizer-wordlevel.json").read_bytes()}
    )
    assert execution["status"] == "SUCCEEDED", failed_events(stack, execution["executionArn"])
    view = run_of(stack, model)
    first, second = sorted(view.candidates, key=lambda c: c.index)
    assert first.status == "FAILED" and "mid-response" in (first.error or "")
    assert second.status == "COMPLETED"
    result = second.parsed_result()
    assert result is not None and result.llm is not None
    assert result.llm.tokenizer == f"models/{model}/tokenizer.json"
    # The word-level tokenizer knows none of the generator's words but "tokens": most are [UNK],
    # one token each, so the count is the words' count; the input "hello, tokens!" is 4 tokens.
    assert result.llm.output_tokens > 0 and result.llm.input_tokens > 0
    recommendation = view.run.parsed_recommendation()
    # Three measured requests are too few to call the SLO met (§8); the ranking prices it all the same.
    assert recommendation is not None and recommendation.ranking_basis == "output_tokens"
    (ranked,) = recommendation.ranked
    assert ranked.label == "ml.g6e.xlarge" and ranked.cost_per_1m_output_tokens_usd is not None
    assert_nothing_left(stack)
