"""A published-style benchmark table of 20 configurations, recomputed through the CLI.

The expected answer is computed here independently, straight from the formula of docs/method.md (section 4.1)
and the bundled price book, for SLOs from loose to impossible.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infercost.cli import main
from infercost.data.pricing.book import PriceBook
from infercost.domain.models import Candidate

TABLE = Path(__file__).parent.parent / "fixtures" / "results" / "published_table_20.json"


def run_json(capsys, *argv: str) -> tuple[int, dict | None, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if captured.out else None), captured.err


def expected_winner(slo_ms: float, percentile: str = "p90") -> tuple[str | None, dict[str, float]]:
    book = PriceBook.load("us-east-1")
    costs: dict[str, float] = {}
    passing = []
    for entry in json.loads(TABLE.read_text())["results"]:
        candidate = Candidate.model_validate(entry["candidate"])
        price = book.candidate_price(candidate).usd_per_hour
        cost = price / 3600 * entry["latency_ms"]["avg"] / 1000 * 100_000
        costs[candidate.label] = cost
        if entry["latency_ms"][percentile] <= slo_ms:
            passing.append((cost, entry["latency_ms"][percentile], candidate.label))
    return (min(passing)[2] if passing else None), costs


@pytest.mark.parametrize("slo", ["p90:500", "p90:80", "p90:45", "p90:25", "p90:10", "p99:60", "p50:20"])
def test_every_slo_strength_picks_the_cheapest_passing_configuration(capsys, slo):
    percentile, bound = slo.split(":")
    code, answer, err = run_json(capsys, "recommend", str(TABLE), "--slo", slo, "--format", "json")
    assert code == 0, err
    winner, costs = expected_winner(float(bound), percentile)
    assert len(answer["ranked"]) == 20
    assert (answer["recommended"] or {}).get("label") == winner
    for item in answer["ranked"]:
        assert item["cost_per_100k_usd"] == pytest.approx(costs[item["label"]], rel=1e-12)
        assert item["meets_slo"] == (item["latency_ms"][percentile] <= float(bound))
    ranked_costs = [item["cost_per_100k_usd"] for item in answer["ranked"]]
    assert ranked_costs == sorted(ranked_costs)
    assert ranked_costs == pytest.approx(sorted(costs.values()), rel=1e-12)
    if winner is None:
        assert "No candidate of 20 meets" in answer["reason"]


def test_stronger_slos_never_get_cheaper(capsys):
    costs = []
    for bound in (500, 100, 80, 60, 45, 35, 25, 18):
        _, answer, _ = run_json(capsys, "recommend", str(TABLE), "--slo", f"p90:{bound}", "--format", "json")
        if answer["recommended"] is not None:
            costs.append(answer["recommended"]["cost_per_100k_usd"])
    assert costs == sorted(costs)
    assert len(costs) >= 5


@pytest.mark.parametrize(
    ("breakage", "field"),
    [
        (lambda d: d["results"][7]["latency_ms"].pop("avg"), "results[7].latency_ms.avg"),
        (lambda d: d["results"][3]["latency_ms"].update(p90=-1.0), "results[3].latency_ms.p90"),
        (
            lambda d: d["results"][12]["candidate"].update(accelerator_type="ml.eia3.medium"),
            "results[12].candidate.accelerator_type",
        ),
        (
            lambda d: d["results"][19]["candidate"].update(instance_type="ml.c5.9xlarg"),
            "results[19].candidate.instance_type",
        ),
        (lambda d: d.update(schema="infercost.results/v0"), "schema"),
        (lambda d: d["slo"].update(percentile="p75"), "slo.percentile"),
    ],
)
def test_broken_tables_are_refused_naming_the_field(capsys, tmp_path, breakage, field):
    data = json.loads(TABLE.read_text())
    breakage(data)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    code, answer, err = run_json(capsys, "recommend", str(path), "--format", "json")
    assert code == 2 and answer is None
    assert err.startswith(f"error: {field}:"), err
    assert len(err.strip().splitlines()) == 1


def test_a_truncated_file_is_refused_with_its_position(capsys, tmp_path):
    path = tmp_path / "truncated.json"
    path.write_text(TABLE.read_text()[:500])
    code, _, err = run_json(capsys, "recommend", str(path))
    assert code == 2 and "is not valid JSON" in err and "line" in err
