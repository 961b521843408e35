"""The HTML report: sections a reader expects, the CLI's columns, embedded charts, nothing fetched."""

from __future__ import annotations

import base64
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from infercost.domain.formatting import usd
from infercost.domain.models import SIMULATED_HARDWARE, Slo
from infercost.domain.recommend import recommend
from infercost.domain.results import ResultsFile
from infercost.report.charts import render_charts
from infercost.report.html import render_report, render_run_report
from infercost.report.inputs import ReportInput
from infercost.report.tables import ranking_columns

from . import report_data

VOID = {"meta", "img", "br", "hr", "link", "input", "source", "wbr", "col", "area", "base", "embed"}
FULL_SECTIONS = {
    "recommendation",
    "regressions",
    "ranking",
    "cost-latency",
    "latency",
    "throughput",
    "serving",
    "failures",
    "benchmark-cost",
    "method",
}


class Page(HTMLParser):
    """What the tests look at: sections, tables (headers and rows), images, links, text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, str] = {}
        self.tables: list[dict[str, list]] = []
        self.images: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.unbalanced: list[str] = []
        self.styles: list[str] = []
        self._stack: list[str] = []
        self._section_stack: list[tuple[str, int]] = []
        self._section_text: dict[str, list[str]] = {}
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_head = False
        self._in_style = False
        self.text: list[str] = []
        self.feed(text)
        self.close()
        self.sections = {key: " ".join(" ".join(parts).split()) for key, parts in self._section_text.items()}

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.append((tag, name, value or ""))
        attributes = dict(attrs)
        if tag not in VOID:
            self._stack.append(tag)
        if tag == "section" and attributes.get("id"):
            self._section_stack.append((attributes["id"], len(self._stack)))
            self._section_text.setdefault(attributes["id"], [])
        if tag == "img":
            self.images.append(attributes.get("src") or "")
        if tag == "table":
            self.tables.append({"class": (attributes.get("class") or "").split(), "headers": [], "rows": []})
        if tag == "thead":
            self._in_head = True
        if tag == "tr":
            self._row = []
        if tag in ("td", "th"):
            self._cell = []
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self._stack or self._stack[-1] != tag:
            self.unbalanced.append(tag)
            return
        depth = len(self._stack)
        self._stack.pop()
        if self._section_stack and self._section_stack[-1][1] == depth:
            self._section_stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        if tag == "tr" and self._row is not None and self.tables:
            key = "headers" if self._in_head else "rows"
            if self._in_head:
                self.tables[-1]["headers"] = self._row
            else:
                self.tables[-1][key].append(self._row)
            self._row = None
        if tag == "thead":
            self._in_head = False
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        for section_id, _ in self._section_stack:
            self._section_text[section_id].append(data)

    def table(self, css_class: str) -> dict[str, list]:
        return next(table for table in self.tables if css_class in table["class"])


@pytest.fixture
def no_charts(monkeypatch):
    """Skip matplotlib where a test is about the page, not its charts (they take seconds)."""
    monkeypatch.setattr("infercost.report.html.render_charts", lambda report: {})


@pytest.fixture(scope="module")
def run_view():
    return report_data.run_view(simulated=True)


@pytest.fixture(scope="module")
def run_html(run_view):
    return render_run_report(run_view)


@pytest.fixture(scope="module")
def run_page(run_html):
    return Page(run_html)


def test_a_full_run_report_has_every_section(run_page):
    assert FULL_SECTIONS | {"simulated"} <= set(run_page.sections)
    assert not run_page.unbalanced


def test_the_ranked_table_has_exactly_the_cli_columns(run_view, run_page):
    rec = ReportInput.from_run(run_view).recommendation
    assert rec is not None
    table = run_page.table("ranking")
    assert table["headers"] == [column.header for column in ranking_columns(rec)]
    assert [row[1] for row in table["rows"]] == [item.label for item in rec.ranked]
    assert all(len(row) == len(table["headers"]) for row in table["rows"])
    assert table["rows"][0][1] == rec.recommended.label


def test_the_verdict_names_the_winner_with_its_numbers(run_view, run_page):
    rec = ReportInput.from_run(run_view).recommendation
    verdict = run_page.sections["recommendation"]
    assert f"Recommended: {rec.recommended.label}" in verdict
    assert usd(rec.recommended.cost_per_100k_usd) in verdict
    assert rec.reason in verdict


def test_charts_are_embedded_pngs(run_page):
    assert len(run_page.images) == 4
    for src in run_page.images:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_nothing_is_fetched_from_a_network(run_html, run_page):
    fetching = [
        (tag, name, value)
        for tag, name, value in run_page.attributes
        if name in ("src", "href", "srcset", "action", "data", "poster")
        and not value.startswith(("data:", "#"))
    ]
    assert fetching == []
    assert not {"script", "link", "iframe", "object", "embed"} & set(run_page.tags)
    css = "".join(run_page.styles)
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    assert "http://" not in run_html and "https://" not in run_html


def test_twenty_candidates_stay_under_two_megabytes(run_view, run_html):
    assert len(run_view.candidates) == 20
    assert len(run_html.encode("utf-8")) < 2_000_000


def test_failed_and_skipped_candidates_show_reason_and_escaped_log_tail(run_view, run_html, run_page):
    table = run_page.table("failures")
    assert table["headers"] == ["Candidate", "Status", "Error", "FailureReason (SageMaker)"]
    failed = [record for record in run_view.candidates if record.status in ("FAILED", "SKIPPED")]
    assert [row[0] for row in table["rows"]] == [record.candidate.label for record in failed]
    for row, record in zip(table["rows"], failed, strict=True):
        assert row[1] == record.status and row[2] == record.error
        assert row[3] == (record.failure_reason or "—")
    # The container log travels as text: a '<...>' in it is escaped, not markup.
    assert "&lt;will fail again&gt;" in run_html
    assert "RuntimeError: CUDA error" in run_page.sections["failures"]


def test_regressions_and_benchmark_cost_are_reported(run_view, run_page):
    for stored in run_view.run.regressions:
        assert stored["message"] in run_page.sections["regressions"]
    assert usd(run_view.run.benchmark_cost_usd) in run_page.sections["benchmark-cost"]
    costly = max(run_view.candidates, key=lambda record: record.benchmark_cost_usd or 0)
    assert costly.candidate.label in run_page.sections["benchmark-cost"]


def test_how_to_serve_it_lists_every_mode_of_every_candidate_and_what_to_deploy(run_view, run_page):
    rec = ReportInput.from_run(run_view).recommendation
    section = run_page.sections["serving"]
    table = next(table for table in run_page.tables if "Mode" in table["headers"])
    rows = {(row[1], row[2]) for row in table["rows"]}
    for item in rec.ranked:
        for option in item.serving_options:
            assert (item.label, option.mode) in rows
    assert rec.serving is not None and rec.recommended is not None
    assert "Chosen:" in section and rec.recommended.label in section
    assert "AWS::ApplicationAutoScaling::ScalingPolicy" in section  # the template to deploy
    assert "monthly" not in run_page.sections  # replaced by the serving section


def test_a_stored_recommendation_without_serving_modes_keeps_the_monthly_section(run_view, no_charts):
    report = ReportInput.from_run(run_view)
    rec = report.recommendation
    legacy = rec.model_copy(
        update={
            "serving": None,
            "ranked": [
                item.model_copy(update={"serving_options": [], "serving_choice": None}) for item in rec.ranked
            ],
        }
    )
    page = Page(render_report(report.model_copy(update={"recommendation": legacy})))
    assert "serving" not in page.sections
    projected = {row[1] for row in page.table("plain")["rows"]}
    for item in legacy.ranked:
        if item.monthly is not None and item.monthly.meets_peak and item.meets_slo:
            assert item.label in projected


def test_the_simulated_note_appears_only_when_the_run_says_so():
    simulated = ReportInput.from_run(report_data.run_view(simulated=True))
    real = ReportInput.from_run(report_data.run_view(simulated=False))
    assert simulated.simulated_note == SIMULATED_HARDWARE
    assert real.simulated_note is None
    explicit = ReportInput.from_run(report_data.run_view(), simulated_note="Local profiles.")
    assert explicit.simulated_note == "Local profiles."


def test_sweep_levels_are_costed_at_their_throughput(run_view):
    report = ReportInput.from_run(run_view)
    rec = report.recommendation
    by_label = {item.label: item for item in rec.ranked}
    assert report.sweeps, "every instance candidate in the fixture was swept"
    for sweep in report.sweeps:
        item = by_label[sweep.label]
        assert sweep.points[0].concurrency == 1
        assert sweep.points[0].cost_per_100k_usd == pytest.approx(item.cost_per_100k_usd)
        for point in sweep.points[1:]:
            expected = item.price_per_hour_usd * item.candidate.instance_count / (3600 * point.rps) * 100_000
            assert point.cost_per_100k_usd == pytest.approx(expected)
        concurrency = [point.concurrency for point in sweep.points]
        assert concurrency == sorted(concurrency)


def test_regressions_given_explicitly_replace_the_stored_ones(run_view):
    report = ReportInput.from_run(run_view, [{"kind": "cost_increase", "message": "Cost rose."}])
    assert [(note.kind, note.message) for note in report.regressions] == [("cost_increase", "Cost rose.")]
    regression = report_data.regressions()[0]
    assert ReportInput.from_run(run_view, [regression]).regressions[0].message == regression.message
    assert ReportInput.from_run(run_view, []).regressions == []


def test_a_failed_run_without_recommendation_says_why_and_lists_unfinished_candidates():
    view = report_data.run_view(
        status="FAILED", with_recommendation=False, error="Recommend: no candidate could be priced"
    )
    unfinished = view.candidates[0].model_copy(update={"status": "RUNNING", "result": None})
    view = view.model_copy(update={"candidates": [unfinished, *view.candidates[1:]]})
    report = ReportInput.from_run(view)
    assert report.verdict == "failed" and report.headline == "run failed"
    html_text = render_report(report)
    page = Page(html_text)
    assert "Recommend: no candidate could be priced" in page.sections["recommendation"]
    assert "No ranking" in page.sections["ranking"]
    measured = page.table("unranked")
    completed = [record for record in view.candidates if record.status == "COMPLETED"]
    assert [row[0] for row in measured["rows"]] == [record.candidate.label for record in completed]
    first = completed[0].parsed_result()
    assert measured["rows"][0][2] == f"{first.latency_ms.p90:,.1f}"
    assert page.images == []
    labels = [row[0] for row in page.table("failures")["rows"]]
    assert view.candidates[0].candidate.label in labels
    assert "did not finish" in page.sections["failures"]


def test_no_candidate_meeting_the_slo_is_the_verdict_with_its_reason(no_charts):
    results = report_data.results_file()
    rec = recommend(results, report_data.PRICES, slo=Slo(percentile="p90", max_latency_ms=2))
    report = ReportInput.from_results(results, rec)
    assert report.verdict == "none_meets_slo"
    page = Page(render_report(report))
    assert "No candidate meets P90 ≤ 2 ms" in page.sections["recommendation"]
    assert rec.reason in page.sections["recommendation"]


def test_a_results_file_report_uses_max_rps_bars_and_says_the_benchmark_cost_is_unknown():
    results = report_data.results_file()
    rec = report_data.recommendation(results)
    report = ReportInput.from_results(results, rec, regressions=report_data.regressions())
    assert report.sweeps == [] and report.benchmark is None
    page = Page(render_report(report))
    assert set(page.sections) >= FULL_SECTIONS
    assert "results file" in page.sections["benchmark-cost"]
    assert [row[0] for row in page.table("failures")["rows"]] == [f.candidate.label for f in results.failures]
    assert len(page.images) == 4


def _minimal_results(**extra) -> ResultsFile:
    entries = [
        {
            "candidate": {"instance_type": "ml.c5.large"},
            "price_per_hour_usd": 0.119,
            "latency_ms": {"avg": 60, "p90": 70},
        },
        {
            "candidate": {"instance_type": "ml.g5.xlarge"},
            "price_per_hour_usd": 1.41,
            "latency_ms": {"avg": 9, "p90": 11},
        },
    ]
    return ResultsFile.model_validate(
        {
            "schema": "infercost.results/v1",
            "model": "m",
            "slo": {"percentile": "p90", "max_latency_ms": 80},
            "results": entries,
            **extra,
        }
    )


def test_charts_without_their_data_are_left_out():
    results = _minimal_results()
    report = ReportInput.from_results(results, recommend(results, None))
    assert set(render_charts(report)) == {"cost_latency", "latency"}
    page = Page(render_report(report))
    assert "throughput" not in page.sections and "monthly" not in page.sections
    assert "None: every candidate was measured." in page.sections["failures"]
    failed = ReportInput(model="m", status="FAILED", error="boom", source="run")
    assert render_charts(failed) == {}


def test_importing_report_and_notify_does_not_import_matplotlib():
    code = "import sys, infercost.report.html, infercost.report.messages, infercost.steps.notify; print('matplotlib' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"


def test_odd_stored_records_are_shown_not_dropped(no_charts):
    view = report_data.run_view()
    records = list(view.candidates)
    # A malformed sweep level is skipped; a failure without a reason still appears; a long log is cut.
    records[10] = records[10].model_copy(
        update={"sweep": [{"rps": 10.0}, *records[10].sweep], "endpoint_seconds": 2 * 3600 + 61}
    )
    records[18] = records[18].model_copy(
        update={"error": None, "log_tail": [f"line {n}" for n in range(100)]}
    )
    run = view.run.model_copy(
        update={
            "spec": {"simulated": "Profiles from benchmarks/profiles.json."},
            "artifact": view.run.artifact.model_copy(update={"version_id": None, "etag": None}),
        }
    )
    report = ReportInput.from_run(view.model_copy(update={"run": run, "candidates": records}))
    assert report.simulated_note == "Profiles from benchmarks/profiles.json."
    assert report.artifact == "s3://ml-artifacts/models/densenet121/model.tar.gz"
    g4dn = next(sweep for sweep in report.sweeps if sweep.label == "ml.g4dn.xlarge")
    assert [point.concurrency for point in g4dn.points] == [1, 2, 4, 8, 16, 32]
    failure = next(item for item in report.failures if item.label == "ml.p3.2xlarge")
    assert failure.error == "no reason recorded"
    assert failure.log_tail.splitlines() == [f"line {n}" for n in range(60, 100)]
    page = Page(render_report(report))
    assert "2 h 01 min" in " ".join(page.text)


def test_a_completed_candidate_missing_from_the_recommendation_is_listed():
    view = report_data.run_view()
    answer = report_data.recommendation()
    trimmed = answer.model_copy(
        update={"ranked": [item for item in answer.ranked if item.label != "ml.c5.xlarge"]}
    )
    run = view.run.model_copy(update={"recommendation": trimmed.to_json()})
    report = ReportInput.from_run(view.model_copy(update={"run": run}))
    missing = next(item for item in report.failures if item.label == "ml.c5.xlarge")
    assert (missing.status, missing.error) == ("COMPLETED", "measured, but not in the recommendation")


def test_wide_cost_ranges_and_snapshot_prices_render():
    results = _minimal_results()
    answer = recommend(results, None)
    answer = answer.model_copy(update={"prices_as_of": "2026-11-01"})
    wide = answer.ranked[0].model_copy(
        update={"cost_per_100k_usd": answer.ranked[0].cost_per_100k_usd * 1000}
    )
    answer = answer.model_copy(update={"ranked": [wide, *answer.ranked[1:]]})
    page = Page(render_report(ReportInput.from_results(results, answer)))
    assert "Prices from the bundled snapshot as of 2026-11-01." in page.sections["method"]
    assert len(page.images) == 2


def test_money_labels():
    assert usd(None) == "—" and usd(float("inf")) == "∞"
    assert usd(0.0042) == "$0.0042" and usd(0) == "$0.00" and usd(1234.5) == "$1,234.50"


def test_a_report_written_before_the_run_is_marked_finished_says_the_recommendation_is_ready(no_charts):
    view = report_data.run_view()
    running = view.model_copy(
        update={"run": view.run.model_copy(update={"status": "RUNNING", "finished_at": None})}
    )
    text = " ".join("".join(Page(render_run_report(running)).text).split())
    assert "run r42 · recommendation ready · us-east-1" in text
    assert "RUNNING" not in text


def test_the_method_lists_the_image_each_candidate_ran(run_view, run_page):
    rec = ReportInput.from_run(run_view).recommendation
    method = run_page.sections["method"]
    neuron = [item.label for item in rec.ranked if item.image_uri and "neuronx" in item.image_uri]
    assert (
        neuron
        and f"Image pytorch-inference-neuronx:2.1.2-neuronx-py310-sdk2.20.0-ubuntu20.04 (763104351884.dkr.ecr.us-east-1.amazonaws.com): {', '.join(neuron)}"
        in method
    )
    assert method.count("Image ") == len({item.image_uri for item in rec.ranked if item.image_uri})
