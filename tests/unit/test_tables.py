"""One list of columns renders every table; rows always have exactly the table's cells."""

from __future__ import annotations

from infercost.domain.formatting import money
from infercost.domain.models import Slo
from infercost.domain.recommend import recommend
from infercost.domain.results import ResultsFile
from infercost.report.tables import Column, cells, html_table, markdown_table, ranking_columns, rich_table


def sample_recommendation(**extra):
    entries = [
        {
            "candidate": {"instance_type": "ml.c5.large"},
            "price_per_hour_usd": 0.119,
            "latency_ms": {"avg": 120, "p90": 130},
        },
        {
            "candidate": {"instance_type": "ml.g5.xlarge"},
            "price_per_hour_usd": 1.41,
            "latency_ms": {"avg": 9, "p90": 11},
            **extra,
        },
    ]
    results = ResultsFile.model_validate({"schema": "infercost.results/v1", "model": "m", "results": entries})
    return recommend(results, None, slo=Slo(percentile="p90", max_latency_ms=80))


def test_every_row_has_exactly_the_header_cells():
    answer = sample_recommendation()
    columns = ranking_columns(answer)
    rendered = cells(columns, answer.ranked)
    assert all(len(row) == len(columns) for row in rendered)
    markdown = markdown_table(columns, answer.ranked).splitlines()
    assert {line.count(" | ") for line in markdown} == {len(columns) - 1}


def test_sweep_columns_appear_only_with_sweep_data():
    plain = [column.header for column in ranking_columns(sample_recommendation())]
    swept = [column.header for column in ranking_columns(sample_recommendation(max_rps_at_slo=120))]
    assert "max RPS at SLO" not in plain
    assert "max RPS at SLO" in swept and "$/100k at max RPS" in swept
    assert plain[3] == "P90 ms"


def test_money_rounds_to_cents():
    assert money(0.38147) == "$0.38"
    assert money(1234.5) == "$1,234.50"
    assert money(None) == "—"
    assert money(float("inf")) == "∞"


def test_html_cells_are_escaped_and_markdown_pipes_escaped():
    columns = [Column("Name <b>", lambda row: row), Column("Value", lambda row: "a|b", "right")]
    html = html_table(columns, ["<script>"])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Name &lt;b&gt;" in html
    assert "a\\|b" in markdown_table(columns, ["x"])


def test_rich_table_has_the_columns():
    answer = sample_recommendation()
    table = rich_table(ranking_columns(answer), answer.ranked, title="t")
    assert [column.header for column in table.columns] == [
        column.header for column in ranking_columns(answer)
    ]
    assert table.row_count == 2
