"""LLM token metrics on crafted streams (docs/method.md §9): TTFT, ITL with multi-token and empty
chunks, tokenizers, goodput, merging, the cost of a million tokens, and the workload's bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from infercost.domain.errors import InputError
from infercost.domain.llm import (
    TokenAccumulator,
    merge_token_levels,
    monthly_token_cost_usd,
    request_tokens,
    token_costs,
)
from infercost.domain.models import PERCENTILES, EvaluationSpec, parse_model
from infercost.domain.results import LatencyStats, LlmStats
from infercost.domain.tokens import builtin_tokenizer, tokenizer_from_json
from infercost.domain.workload import LlmWorkload, TokenSlo, parse_prompts
from infercost.measurement.llm import part_texts

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
WHITESPACE = builtin_tokenizer("whitespace")


def test_ttft_is_the_first_part_with_a_token_and_itl_spreads_multi_token_chunks() -> None:
    # An empty part, a whitespace-only part, then 1 + 3 + 2 tokens: six tokens in three chunks.
    times = [5.0, 12.0, 100.0, 130.0, 190.0]
    texts = ["", " ", "Once", " upon a time", " there was"]
    request = request_tokens(times, texts, 200.0, WHITESPACE, input_tokens=4)
    assert not isinstance(request, str)
    assert request.ttft_ms == 100.0  # not 5 ms: neither of the first parts carries a token
    assert request.output_tokens == 6  # never the 5 chunks
    # (end to end − TTFT) ÷ (tokens − 1) = (200 − 100) ÷ 5
    assert request.itl_ms == pytest.approx(20.0)
    assert request.e2e_ms == 200.0 and request.input_tokens == 4


def test_one_token_has_no_inter_token_latency() -> None:
    request = request_tokens([30.0], ["Hi"], 31.0, WHITESPACE)
    assert not isinstance(request, str)
    assert request.output_tokens == 1 and request.itl_ms is None


def test_a_stream_without_tokens_is_an_error_not_a_measurement() -> None:
    reason = request_tokens([1.0, 2.0], ["", "  \n"], 3.0, WHITESPACE)
    assert isinstance(reason, str) and "without tokens" in reason


def test_a_word_split_across_chunks_counts_once() -> None:
    request = request_tokens([10.0, 20.0, 30.0], ["hel", "lo wor", "ld"], 40.0, WHITESPACE)
    assert not isinstance(request, str)
    assert request.output_tokens == 2  # "hello world", not 3 chunks' worth of words


def test_bytes_tokenizer_counts_utf8_bytes() -> None:
    tokenizer = builtin_tokenizer("bytes")
    assert tokenizer.count("é!") == 3
    request = request_tokens([1.0, 2.0], ["a", "é"], 5.0, tokenizer)
    assert not isinstance(request, str)
    assert request.output_tokens == 3 and request.itl_ms == pytest.approx((5.0 - 1.0) / 2)


def test_tokenizer_json_counts_its_own_tokens() -> None:
    tokenizer = tokenizer_from_json("tok.json", (FIXTURES / "tokenizer-wordlevel.json").read_bytes())
    # The word-level tokenizer splits punctuation: hello , world ! — whitespace would say 2.
    assert tokenizer.count("Hello, world!") == 4
    assert WHITESPACE.count("Hello, world!") == 2


def test_a_tokenizer_that_does_not_parse_names_the_field() -> None:
    with pytest.raises(InputError) as caught:
        tokenizer_from_json("models/x/tokenizer.json", b'{"model": "not a tokenizer"')
    assert caught.value.one_line().startswith("workload.tokenizer: models/x/tokenizer.json")
    assert "\n" not in caught.value.one_line()


def test_unknown_builtin_tokenizer_names_the_field() -> None:
    with pytest.raises(InputError, match=r"^workload\.tokenizer: 'words' is not a built-in"):
        builtin_tokenizer("words")


def test_part_texts_of_json_lines_and_split_utf8() -> None:
    # TGI-style events, one object split across two parts, a special token left out.
    parts = [
        b'data:{"token":{"text":"Hel","special":false}}\n',
        b'data:{"token":{"text":"lo"',
        b',"special":false}}\ndata:{"token":{"text":"</s>","special":true}}\n',
    ]
    assert part_texts(parts) == ["Hel", "", "lo"]
    # A two-byte character split between parts belongs to the part that completes it.
    assert part_texts([b"caf\xc3", b"\xa9 au lait"]) == ["caf", "é au lait"]
    assert part_texts([b'{"token": "a"}', b'{"token": "b"}{"token": "c"}']) == ["a", "bc"]


def test_goodput_counts_only_requests_within_every_slo() -> None:
    slos = TokenSlo.parse_list("ttft:p90:100,itl:p90:10")
    accumulator = TokenAccumulator("whitespace", slos)
    fast = request_tokens([50.0, 60.0], ["a b", " c d"], 80.0, WHITESPACE, input_tokens=3, slos=slos)
    slow_start = request_tokens([150.0], ["a b c"], 160.0, WHITESPACE, input_tokens=3, slos=slos)
    slow_gaps = request_tokens([20.0, 90.0], ["a", " b"], 90.0, WHITESPACE, input_tokens=3, slos=slos)
    for request in (fast, slow_start, slow_gaps):
        assert not isinstance(request, str)
        accumulator.add(request)
    level = accumulator.result(duration_s=2.0)
    assert (level.requests, level.good) == (3, 1)
    assert level.output_tokens == 4 + 3 + 2
    assert level.output_tokens_per_s == pytest.approx(4 / 2.0)  # only the good request's tokens
    assert level.input_tokens_per_s == pytest.approx(3 / 2.0)
    assert level.goodput_rps == pytest.approx(0.5)


def test_token_levels_merge_exactly() -> None:
    requests = [
        request_tokens([float(t)], [" ".join("w" * (1 + t % 5))], float(t) * 3 + 10, WHITESPACE)
        for t in range(1, 60)
    ]
    whole, first, second = (TokenAccumulator("whitespace") for _ in range(3))
    for index, request in enumerate(requests):
        assert not isinstance(request, str)
        whole.add(request)
        (first if index % 2 else second).add(request)
    merged = merge_token_levels([first.result(1.0), second.result(1.0)])
    alone = whole.result(1.0)
    assert merged.ttft_ms == alone.ttft_ms and merged.itl_ms == alone.itl_ms
    assert merged.output_tokens == alone.output_tokens
    assert merged.output_tokens_per_s == pytest.approx(alone.output_tokens_per_s)


def test_level_breach_names_the_metric() -> None:
    slos = TokenSlo.parse_list("itl:p90:5")
    accumulator = TokenAccumulator("whitespace", slos)
    request = request_tokens([10.0], ["a b c"], 50.0, WHITESPACE, slos=slos)
    assert not isinstance(request, str)
    accumulator.add(request)
    breach = accumulator.result(1.0).breach(None, 4)
    # ITL (50 − 10) ÷ 2 = 20 ms, read from the sketch within its 1 % accuracy.
    assert breach is not None and re.fullmatch(r"itl p90 (19\.9|20\.0) ms > 5 ms at concurrency 4", breach)
    assert (
        TokenAccumulator("whitespace", TokenSlo.parse_list("itl:p90:25")).result(1.0).breach(None, 4) is None
    )


def test_cost_per_million_tokens_formula() -> None:
    stats = LlmStats(
        ttft_ms=LatencyStats(avg=100),
        itl_ms=LatencyStats(avg=20),
        output_tokens_per_s=500.0,
        input_tokens_per_s=250.0,
    )
    # 1.4084 $/h ÷ 3600 ÷ 500 tokens/s × 1,000,000 = $0.7824 per 1M output tokens.
    output, inputs = token_costs(stats, 1.4084, 1)
    assert output == pytest.approx(1.4084 / 3600 / 500 * 1_000_000)
    assert output == pytest.approx(0.78244, rel=1e-4)
    assert inputs == pytest.approx(2 * output)
    assert token_costs(stats, 1.4084, 2)[0] == pytest.approx(2 * output)
    nothing_good = stats.model_copy(update={"output_tokens_per_s": 0.0, "input_tokens_per_s": 0.0})
    assert token_costs(nothing_good, 1.4084, 1) == (None, None)
    assert token_costs(None, 1.4084, 1) == (None, None)


def test_monthly_token_cost() -> None:
    # 1e9 tokens at 500 tokens/s: 555.6 instance-hours, under a month: one always-on instance.
    assert monthly_token_cost_usd(1e9, 500.0, 1.0) == pytest.approx(730.0)
    # 3e9 tokens: 1666.7 hours = 2.28 instances' month.
    assert monthly_token_cost_usd(3e9, 500.0, 1.0) == pytest.approx(3e9 / 500 / 3600)
    assert monthly_token_cost_usd(1e9, 0.0, 1.0) is None


def test_slo_list_parses_and_refuses_with_the_field() -> None:
    slos = TokenSlo.parse_list("ttft:p90:500, itl:P95:50ms")
    assert [(s.metric, s.percentile, s.max_ms) for s in slos] == [("ttft", "p90", 500), ("itl", "p95", 50)]
    with pytest.raises(InputError, match=r"^--slo"):
        TokenSlo.parse_list("ttft:500")
    with pytest.raises(InputError, match=r"^--slo\.metric"):
        TokenSlo.parse_list("tpot:p90:5")


def test_token_percentiles_are_the_models_percentiles() -> None:
    from typing import get_args

    from infercost.domain.workload import TokenPercentile

    assert get_args(TokenPercentile) == PERCENTILES


def _spec(workload: object) -> dict[str, object]:
    return {
        "model": {"name": "m", "image_uri": "763104351884.dkr.ecr.us-east-1.amazonaws.com/x:1-gpu"},
        "candidates": [{"instance_type": "ml.g5.xlarge"}],
        "workload": workload,
    }


@pytest.mark.parametrize(
    ("workload", "field"),
    [
        ({"kind": "llm", "prompts": [], "max_new_tokens": 8}, "workload.prompts"),
        ({"kind": "llm", "prompts": ["hi"], "max_new_tokens": 0}, "workload.max_new_tokens"),
        ({"kind": "llm", "prompts": ["hi"], "max_new_tokens": -3}, "workload.max_new_tokens"),
        ({"kind": "llm", "prompts": [""], "max_new_tokens": 8}, "workload.prompts"),
        ({"kind": "chat", "prompts": ["hi"], "max_new_tokens": 8}, "workload.kind"),
    ],
)
def test_bad_workload_is_one_line_naming_the_field(workload: object, field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_model(EvaluationSpec, _spec(workload))
    line = caught.value.one_line()
    assert line.startswith(f"{field}:") and "\n" not in line


def test_llm_spec_needs_no_payload_and_classic_is_the_default() -> None:
    spec = parse_model(
        EvaluationSpec, _spec({"kind": "llm", "prompts": "prompts.jsonl", "max_new_tokens": 8})
    )
    assert isinstance(spec.workload, LlmWorkload) and spec.workload.tokenizer == "whitespace"
    body = json.loads(spec.workload.request_body("hi"))
    assert body == {"inputs": "hi", "parameters": {"max_new_tokens": 8}, "stream": True}
    classic = {**_spec(None), "payload": {"body": "{}"}}
    assert parse_model(EvaluationSpec, classic).workload is None
    with pytest.raises(ValidationError):
        EvaluationSpec.model_validate({k: v for k, v in _spec(None).items() if k != "workload"})


def test_prompts_jsonl() -> None:
    data = b'"first"\n{"prompt": "second"}\n\n{"text": "third"}\n'
    assert parse_prompts(data, "p.jsonl") == ["first", "second", "third"]
    with pytest.raises(InputError, match=r"^workload\.prompts: line 2 of p\.jsonl is not JSON"):
        parse_prompts(b'"ok"\nnot json\n', "p.jsonl")
    with pytest.raises(InputError, match=r"^workload\.prompts: p\.jsonl holds no prompt"):
        parse_prompts(b"\n\n", "p.jsonl")
    with pytest.raises(InputError, match=r"^workload\.prompts: line 1 of p\.jsonl holds no prompt"):
        parse_prompts(b'{"question": 1}\n', "p.jsonl")
