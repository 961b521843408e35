"""Every output that shows a derived price marks it as an estimate and says what the mark means.

The outputs: the CLI's ranking table, Markdown and JSON, the HTML report, the SNS and Slack
messages, and `infercost prices`. A run whose prices are all published or live shows no mark.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from infercost.cli import main
from infercost.domain.formatting import ESTIMATE_FOOTNOTE, ESTIMATE_MARK
from infercost.domain.recommend import recommend
from infercost.domain.results import Recommendation, ResultsFile
from infercost.report.console import print_recommendation, render_markdown
from infercost.report.html import render_report
from infercost.report.inputs import ReportInput
from infercost.report.messages import build_slack_payload, build_sns_message

from .price_table import TablePrices

SLO = {"percentile": "p90", "max_latency_ms": 80}


def results_file() -> ResultsFile:
    def entry(instance_type: str, avg: float) -> dict:
        return {"candidate": {"instance_type": instance_type}, "latency_ms": {"avg": avg, "p90": avg * 1.2}}

    return ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "densenet121",
            "region": "us-west-2",
            "slo": SLO,
            "results": [entry("ml.c5.large", 40.0), entry("ml.g5.xlarge", 5.0), entry("ml.m5.large", 200.0)],
        }
    )


def answer(derived: tuple[str, ...] = ("ml.c5.large",)) -> Recommendation:
    prices = TablePrices(
        {"ml.c5.large": 0.102, "ml.g5.xlarge": 1.408, "ml.m5.large": 0.115},
        region="us-west-2",
        basis=dict.fromkeys(derived, "derived"),
    )
    return recommend(results_file(), prices)


@pytest.fixture(scope="module")
def estimated() -> Recommendation:
    rec = answer()
    # The cheapest candidate per 100k is ml.c5.large, whose price is derived.
    assert rec.recommended is not None and rec.recommended.label == "ml.c5.large"
    assert rec.recommended.price_basis == "derived"
    return rec


@pytest.fixture(scope="module")
def published() -> Recommendation:
    return answer(derived=())


def console_text(rec: Recommendation) -> str:
    buffer = StringIO()
    print_recommendation(rec, Console(file=buffer, width=200, color_system=None))
    return buffer.getvalue()


def test_the_terminal_table_marks_the_derived_price_and_explains_the_mark(estimated, published):
    text = console_text(estimated)
    row = next(line for line in text.splitlines() if "ml.c5.large" in line and "$" in line)
    assert f"{ESTIMATE_MARK} $0.10" in row
    other = next(line for line in text.splitlines() if "ml.g5.xlarge" in line and "$" in line)
    assert ESTIMATE_MARK not in other
    assert "estimated price: derived from another region's" in " ".join(text.split())
    plain = console_text(published)
    assert ESTIMATE_MARK not in plain and "estimated price" not in plain


def test_markdown_marks_the_cell_and_puts_the_footnote_outside_the_table(estimated, published):
    text = render_markdown(estimated)
    table = [line for line in text.splitlines() if line.startswith("|")]
    c5 = next(line for line in table if "ml.c5.large" in line)
    assert f"| {ESTIMATE_MARK} $0.10 |" in c5
    assert ESTIMATE_FOOTNOTE in text.splitlines()
    # A blank line ends the table before the footnote, or Markdown would read it as a row.
    lines = text.splitlines()
    assert lines[lines.index(ESTIMATE_FOOTNOTE) - 1] == ""
    assert ESTIMATE_FOOTNOTE not in render_markdown(published)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def page_text(rec: Recommendation, monkeypatch) -> str:
    monkeypatch.setattr("infercost.report.html.render_charts", lambda report: {})
    parser = _Text()
    parser.feed(render_report(ReportInput.from_results(results_file(), rec)))
    return " ".join(" ".join(parser.parts).split())


def test_the_report_marks_the_tile_and_the_table_and_explains(estimated, published, monkeypatch):
    text = page_text(estimated, monkeypatch)
    assert f"{ESTIMATE_MARK} $0.10/h snapshot, derived: an estimate" in text
    assert f"ml.c5.large {ESTIMATE_MARK} $0.10" in text
    assert ESTIMATE_FOOTNOTE in text
    plain = page_text(published, monkeypatch)
    assert ESTIMATE_MARK not in plain and "snapshot, published by AWS" in plain


def report_of(rec: Recommendation) -> ReportInput:
    return ReportInput.from_results(results_file(), rec)


def test_sns_says_the_recommended_price_is_an_estimate(estimated, published):
    message = build_sns_message(report_of(estimated))
    assert "Price estimate: the price of ml.c5.large ($0.10/h) is derived" in message.body
    ranking = next(line for line in message.body.splitlines() if "1. ml.c5.large" in line)
    assert f"{ESTIMATE_MARK} $" in ranking
    assert ESTIMATE_FOOTNOTE in message.body
    # The subject stays ASCII: the mark becomes '~'.
    assert "use ml.c5.large (~ $" in message.subject and message.subject.isascii()
    plain = build_sns_message(report_of(published))
    assert "estimate" not in plain.body and "~" not in plain.subject


def test_sns_marks_a_derived_runner_up_without_calling_the_winner_an_estimate():
    rec = answer(derived=("ml.g5.xlarge",))
    body = build_sns_message(report_of(rec)).body
    assert "Price estimate" not in body
    g5 = next(line for line in body.splitlines() if ". ml.g5.xlarge" in line)
    assert ESTIMATE_MARK in g5 and ESTIMATE_FOOTNOTE in body


def test_slack_says_the_recommended_price_is_an_estimate(estimated, published):
    payload = build_slack_payload(report_of(estimated))
    text = json.dumps(payload, ensure_ascii=False)
    assert "*Price estimate: the price of ml.c5.large ($0.10/h) is derived" in text
    cost = next(
        field["text"]
        for block in payload["blocks"]
        for field in block.get("fields", [])
        if field["text"].startswith("*Cost per 100k*")
    )
    assert ESTIMATE_MARK in cost
    assert "estimate" not in json.dumps(build_slack_payload(report_of(published)))


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_recommend_json_gives_each_candidate_its_price_basis(capsys, tmp_path: Path):
    data = results_file().to_json()
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    code, out, err = run_cli(capsys, "recommend", str(path), "--format", "json")
    assert code == 0, err
    ranked = {item["label"]: item["price_basis"] for item in json.loads(out)["ranked"]}
    # Every us-west-2 price here is scaled from us-east-1's (region-ratio).
    assert ranked == {"ml.c5.large": "derived", "ml.g5.xlarge": "derived", "ml.m5.large": "derived"}
    code, out, _ = run_cli(capsys, "recommend", str(path))
    assert code == 0 and f"{ESTIMATE_MARK} $0.10" in out and "estimated price" in out


def test_prices_lists_the_basis_of_every_row_and_marks_derived_ones(capsys):
    code, out, err = run_cli(capsys, "prices", "--region", "eu-west-1", "--family", "g4dn")
    assert code == 0, err
    rows = {line.split("│")[2].strip(): line for line in out.splitlines() if "ml.g4dn." in line}
    # Billed in eu-west-1 (an AWS bill): published; the other sizes are scaled: derived.
    assert "published" in rows["ml.g4dn.xlarge"] and ESTIMATE_MARK not in rows["ml.g4dn.xlarge"]
    assert "derived" in rows["ml.g4dn.2xlarge"] and f"{ESTIMATE_MARK} $" in rows["ml.g4dn.2xlarge"]
    assert "estimated price" in out
    code, out, _ = run_cli(capsys, "prices", "--region", "eu-west-1", "--family", "g4dn", "--format", "json")
    basis = {row["name"]: row["basis"] for row in json.loads(out)["prices"]}
    assert basis["ml.g4dn.xlarge"] == "published" and basis["ml.g4dn.2xlarge"] == "derived"


def test_plan_marks_the_derived_prices_it_budgets_with(capsys, tmp_path: Path):
    from infercost.cli.costs import EXAMPLE_SPEC

    path = tmp_path / "infercost.json"
    path.write_text(json.dumps(EXAMPLE_SPEC))
    code, out, err = run_cli(capsys, "plan", str(path), "--format", "json")
    assert code == 0, err
    basis = {item["label"]: item["price_basis"] for item in json.loads(out)["candidates"]}
    # us-east-1: ml.c7g is EC2 c7g x the ml.c5 markup (derived), ml.g5.xlarge an AWS figure.
    assert basis["ml.c7g.large"] == "derived" and basis["ml.g5.xlarge"] == "published"
    code, out, _ = run_cli(capsys, "plan", str(path))
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 3}
    assert f"{ESTIMATE_MARK} $" in rows["ml.c7g.large"] and ESTIMATE_MARK not in rows["ml.g5.xlarge"]
    assert "estimated price" in out
