"""The confidence where people read it: the table, the terminal, the report, SNS and Slack."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console

from infercost.domain.recommend import recommend
from infercost.domain.results import Recommendation, ResultsFile
from infercost.report.console import print_recommendation
from infercost.report.html import render_report
from infercost.report.inputs import ReportInput
from infercost.report.messages import build_slack_payload, build_sns_message
from infercost.report.tables import cells, ranking_columns

from . import report_data
from .price_table import TablePrices

PRICES = TablePrices({"ml.c5.large": 0.119, "ml.c5.xlarge": 0.238, "ml.g4dn.xlarge": 0.736})


def result(
    instance_type: str, p90: float, interval: tuple[float | None, float | None] | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "candidate": {"instance_type": instance_type},
        "latency_ms": {"avg": p90 * 0.8, "p90": p90},
    }
    if interval is not None:
        data["confidence"] = {"samples": 1000, "intervals_ms": {"p90": list(interval)}, "method": "test"}
    return data


def answer(*entries: dict[str, Any]) -> Recommendation:
    file = ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "densenet121",
            "region": "us-east-1",
            "slo": {"percentile": "p90", "max_latency_ms": 80},
            "results": list(entries),
        }
    )
    return recommend(file, PRICES)


MIXED = (
    result("ml.c5.large", 78.2, (74.9, 81.6)),  # uncertain
    result("ml.c5.xlarge", 60.0, (58.0, 62.0)),  # meets
    result("ml.g4dn.xlarge", 22.0, None),  # typed in: point estimate
)


def test_the_table_marks_the_uncertain_and_shows_each_interval() -> None:
    rec = answer(*MIXED)
    columns = ranking_columns(rec)
    headers = [column.header for column in columns]
    assert "P90 95 % CI" in headers
    rows = {row[1]: dict(zip(headers, row, strict=True)) for row in cells(columns, rec.ranked)}
    assert rows["ml.c5.large"]["SLO"] == "? uncertain" and rows["ml.c5.large"]["P90 95 % CI"] == "74.9–81.6"
    assert rows["ml.c5.xlarge"]["SLO"] == "meets" and rows["ml.c5.xlarge"]["P90 95 % CI"] == "58.0–62.0"
    assert rows["ml.g4dn.xlarge"]["P90 95 % CI"] == "point estimate"


def test_without_any_interval_the_table_has_no_interval_column() -> None:
    rec = answer(result("ml.c5.large", 50.0, None))
    assert not any("CI" in column.header for column in ranking_columns(rec))


def test_an_unbounded_interval_reads_as_infinite() -> None:
    rec = answer(result("ml.c5.large", 50.0, (45.0, None)))
    (row,) = cells(ranking_columns(rec), rec.ranked)
    assert "45.0–∞" in row and "? uncertain" in row


def test_the_terminal_says_how_the_slo_was_judged() -> None:
    out = io.StringIO()
    print_recommendation(answer(*MIXED), Console(file=out, width=250))
    text = " ".join(out.getvalue().split())  # as read, whatever the wrapping
    assert "upper bound of the 95 % confidence interval of P90" in text
    assert "Point estimate, no interval (no sketch, or the maximum): ml.g4dn.xlarge." in text


def test_the_json_answer_carries_status_interval_and_confidence() -> None:
    data = json.loads(json.dumps(answer(*MIXED).to_json()))
    first = data["ranked"][0]
    assert first["slo_status"] == "uncertain" and first["slo_interval_ms"] == [74.9, 81.6]
    assert first["confidence"]["intervals_ms"]["p90"] == [74.9, 81.6] and first["meets_slo"] is False
    assert data["ranked"][2]["slo_interval_ms"] is None
    assert data["warnings"] == ["point estimate: no interval (no sketch)"]


def report_of(rec: Recommendation) -> ReportInput:
    view = report_data.run_view()
    run = view.run.model_copy(update={"recommendation": rec.to_json(), "regressions": []})
    return ReportInput.from_run(view.model_copy(update={"run": run}))


def test_when_nothing_is_sure_sns_and_slack_say_uncertain() -> None:
    rec = answer(result("ml.c5.large", 78.2, (74.9, 81.6)), result("ml.c5.xlarge", 85.0, (82.0, 88.0)))
    assert rec.recommended is None
    report = report_of(rec)
    message = build_sns_message(report)
    assert message.kind == "no_candidate"
    assert message.subject == "infercost densenet121: uncertain - ml.c5.large might meet P90 <= 80 ms"
    assert "uncertain: no candidate is sure to meet P90 ≤ 80 ms; ml.c5.large might" in message.body
    assert "uncertain (P90 78.2 ms (95 % CI 74.9–81.6) straddles 80 ms" in message.body
    assert "misses (P90 85.0 ms (95 % CI 82.0–88.0) > 80 ms)" in message.body
    slack = json.dumps(build_slack_payload(report), ensure_ascii=False)
    assert "P90 78.2 ms ?" in slack and "? uncertain" in slack and "0 of 2 meet the SLO, 1 uncertain" in slack


def test_when_nothing_meets_and_nothing_is_uncertain_the_message_is_unchanged() -> None:
    report = report_of(answer(result("ml.c5.large", 90.0, (85.0, 95.0))))
    assert build_sns_message(report).subject == "infercost densenet121: no candidate meets P90 <= 80 ms"


def test_the_report_shows_the_winners_interval_and_the_rule() -> None:
    page = render_report(report_of(answer(*MIXED)))
    assert "SLO P90 ≤ 80 ms; 95 % CI 58.0–62.0 ms" in page
    assert "upper bound of the 95 % confidence interval of P90" in page
    assert "? uncertain" in page
