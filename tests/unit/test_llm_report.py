"""What a person sees of an LLM run: cost per 1M tokens in the ranking, the report, the
notifications, and regressions of the token figures."""

from __future__ import annotations

import re
from typing import Any

import pytest

from infercost.domain.recommend import recommend
from infercost.domain.regression import detect_regressions
from infercost.domain.results import Recommendation, ResultsFile
from infercost.domain.traffic import TrafficProfile
from infercost.report.inputs import ReportInput
from infercost.report.messages import build_slack_payload, build_sns_message
from infercost.report.tables import html_table, ranking_columns


def _llm(ttft_p90: float, itl_p90: float, tokens_per_s: float) -> dict[str, Any]:
    return {
        "ttft_ms": {"avg": ttft_p90 * 0.8, "p50": ttft_p90 * 0.7, "p90": ttft_p90, "max": ttft_p90 * 1.2},
        "itl_ms": {"avg": itl_p90 * 0.8, "p50": itl_p90 * 0.7, "p90": itl_p90, "max": itl_p90 * 1.2},
        "output_tokens_per_s": tokens_per_s,
        "input_tokens_per_s": tokens_per_s / 2,
        "output_tokens": 4000,
        "requests": 250,
        "concurrency": 8,
        "tokenizer": "whitespace",
    }


def _results(g5_tokens_per_s: float = 500.0, g5_ttft: float = 100.0) -> ResultsFile:
    return ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "tiny-textgen",
            "region": "us-east-1",
            "slo": {"percentile": "p90", "max_latency_ms": 2000},
            "results": [
                {
                    "candidate": {"instance_type": "ml.g5.xlarge"},
                    "price_per_hour_usd": 1.4084,
                    "latency_ms": {"avg": 400, "p90": 600},
                    "llm": _llm(g5_ttft, 20, g5_tokens_per_s),
                },
                {
                    "candidate": {"instance_type": "ml.g6e.xlarge"},
                    "price_per_hour_usd": 2.6054,
                    "latency_ms": {"avg": 300, "p90": 450},
                    "llm": _llm(60, 10, 700.0),
                },
            ],
        }
    )


def _recommendation(results: ResultsFile) -> Recommendation:
    return recommend(results, None)


def test_ranking_carries_cost_per_million_tokens() -> None:
    ranked = {item.label: item for item in _recommendation(_results()).ranked}
    g5 = ranked["ml.g5.xlarge"]
    assert g5.cost_per_1m_output_tokens_usd == pytest.approx(1.4084 / 3600 / 500 * 1e6)
    assert g5.cost_per_1m_input_tokens_usd == pytest.approx(1.4084 / 3600 / 250 * 1e6)
    assert g5.llm is not None and g5.llm.ttft_ms.p90 == 100


def test_classic_results_have_no_token_columns() -> None:
    classic = ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "m",
            "slo": {"percentile": "p90", "max_latency_ms": 80},
            "results": [
                {
                    "candidate": {"instance_type": "ml.g5.xlarge"},
                    "price_per_hour_usd": 1.0,
                    "latency_ms": {"avg": 10, "p90": 12},
                }
            ],
        }
    )
    rec = _recommendation(classic)
    assert rec.ranked[0].cost_per_1m_output_tokens_usd is None
    assert "TTFT" not in html_table(ranking_columns(rec), rec.ranked)


def test_report_and_notifications_show_token_figures() -> None:
    results = _results()
    rec = _recommendation(results)
    # The HTML report's ranking section is this table.
    table = html_table(ranking_columns(rec), rec.ranked)
    assert "TTFT P90 ms" in table and "$/1M out tokens" in table and "$0.78" in table
    report = ReportInput.from_results(results, rec)
    message = build_sns_message(report)
    assert "/1M output tokens, TTFT P90" in message.subject
    assert "Tokens (P90 time to first token" in message.body
    assert re.search(r"ml\.g5\.xlarge +TTFT 100\.0 ms  ITL 20\.0 ms  500\.0 tok/s  \$0\.78/1M", message.body)
    slack = str(build_slack_payload(report))
    assert "Cost per 1M output tokens" in slack and "TTFT / ITL P90" in slack


def test_regressions_cover_token_cost_and_latencies() -> None:
    before = _recommendation(_results())
    # The same winner, now slower to start and with a fifth less token goodput.
    after = _recommendation(_results(g5_tokens_per_s=400.0, g5_ttft=150.0))
    assert before.recommended is not None and after.recommended is not None
    assert before.recommended.label == after.recommended.label
    kinds = {regression.kind: regression for regression in detect_regressions(after, before)}
    assert "token_cost_increase" in kinds and "ttft_increase" in kinds and "itl_increase" not in kinds
    assert kinds["token_cost_increase"].unit == "usd_per_1m_tokens"
    assert kinds["token_cost_increase"].change_pct == pytest.approx(25.0)
    assert "P90 time to first token" in kinds["ttft_increase"].message


def test_a_candidate_without_token_goodput_is_never_recommended() -> None:
    # The cheaper g5 served no request within the token SLOs: it misses them.
    rec = _recommendation(_results(g5_tokens_per_s=0.0))
    ranked = {item.label: item for item in rec.ranked}
    assert not ranked["ml.g5.xlarge"].meets_slo
    assert ranked["ml.g5.xlarge"].slo_verdict == "no load level met the token SLOs (no output-token goodput)"
    assert ranked["ml.g5.xlarge"].cost_per_1m_output_tokens_usd is None
    assert rec.recommended is not None and rec.recommended.label == "ml.g6e.xlarge"


def test_streamed_candidates_are_ranked_by_cost_per_million_output_tokens() -> None:
    # g5 is cheaper per 100k requests (serial), g6e per million tokens (more goodput).
    rec = _recommendation(_results(g5_tokens_per_s=200.0))
    by_label = {item.label: item for item in rec.ranked}
    assert by_label["ml.g5.xlarge"].cost_per_100k_usd < by_label["ml.g6e.xlarge"].cost_per_100k_usd
    assert rec.ranking_basis == "output_tokens"
    assert [item.label for item in rec.ranked] == ["ml.g6e.xlarge", "ml.g5.xlarge"]
    assert rec.recommended is not None and rec.recommended.label == "ml.g6e.xlarge"
    assert rec.reason.startswith(
        "ml.g6e.xlarge is the cheapest per million output tokens of 2 candidates that meet P90 ≤ 2000 ms "
        "and the token SLOs: $1.03 per 1M output tokens at 700.0 output tokens/s of goodput (concurrency 8)"
    )
    assert "47% cheaper than the runner-up ml.g5.xlarge ($1.96)" in rec.reason


def test_a_month_of_output_tokens_is_priced_on_each_streamed_candidate() -> None:
    traffic = TrafficProfile(requests_per_month=1_000_000, peak_rps=5, output_tokens_per_month=3_000_000_000)
    rec = recommend(_results(), None, traffic=traffic)
    g5 = next(item for item in rec.ranked if item.label == "ml.g5.xlarge")
    # 3e9 tokens ÷ 500 tokens/s ÷ 3600 = 1,666.7 instance-hours at $1.4084.
    assert g5.monthly_token_cost_usd == pytest.approx(3e9 / 500 / 3600 * 1.4084)
    assert "$/month of tokens" in html_table(ranking_columns(rec), rec.ranked)
    assert _recommendation(_results()).ranked[0].monthly_token_cost_usd is None
