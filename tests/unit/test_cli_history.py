"""`infercost history`, `show` and `report` against a results table (moto), a stack, or a local endpoint."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from infercost import cli
from infercost.data.history import find_run, model_history, resolve_table_name, run_regressions
from infercost.data.store import ResultsStore, create_table
from infercost.domain.errors import InputError
from infercost.domain.records import RunRecord, RunView
from infercost.domain.regression import detect_regressions

from . import report_data
from .test_report import Page

TABLE = "infercost-results"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run `infercost ARGS` as the console script does: exit code, stdout, stderr."""
    try:
        cli.main(list(args))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def seed(client) -> ResultsStore:
    """Three runs of densenet121: an older success, a failure, and the realistic run r42."""
    create_table(client, TABLE)
    store = ResultsStore(client, TABLE)
    # No traffic profile: an infinite monthly cost cannot be stored (see report_data.results_file).
    current = report_data.run_view(traffic=False)
    previous = report_data.recommendation(report_data.results_file(inf2_latency_factor=0.7, traffic=False))
    older = RunRecord(
        model="densenet121",
        started_at="2026-11-13T10:00:00.000Z",
        run_id="r40",
        status="SUCCEEDED",
        region="us-east-1",
        slo=report_data.SLO,
        recommendation=previous.to_json(),
        benchmark_cost_usd=1.31,
    )
    failed = RunRecord(
        model="densenet121",
        started_at="2026-11-17T09:00:00.000Z",
        run_id="r41",
        status="FAILED",
        slo=report_data.SLO,
        error="spec: candidates[2].instance_type: unknown instance type 'ml.c9.large'",
    )
    # r42's regressions are left for the CLI to compute against r40.
    newest = current.run.model_copy(update={"regressions": None})
    for run in (older, failed, newest):
        assert store.create_run(run)
    for record in current.candidates:
        assert store.put_candidate(newest, record)
    other = RunRecord(model="resnet50", started_at="2026-11-18T09:00:00.000Z", run_id="s7", status="RUNNING")
    assert store.create_run(other)
    return store


@pytest.fixture(scope="class")
def seeded():
    """One moto account per class: its tests only read the table (stacks get unique names)."""
    with mock_aws():
        yield seed(boto3.client("dynamodb", region_name="us-east-1"))


@pytest.fixture
def store(seeded, monkeypatch):
    monkeypatch.setenv("INFERCOST_TABLE_NAME", TABLE)
    return seeded


class TestStoredRuns:
    """Commands against a seeded results table in moto."""

    def test_history_lists_runs_newest_first(self, store, capsys):
        code, out, err = run_cli(capsys, "history", "densenet121")
        assert code == 0, err
        rows = [
            [cell.strip() for cell in line.split("│")[1:-1]] for line in out.splitlines() if " r4" in line
        ]
        assert [row[1] for row in rows] == ["r42", "r41", "r40"]
        lines = ["|".join(row) for row in rows]
        assert "ml.inf2.xlarge" in lines[0] and "SUCCEEDED" in lines[0]
        assert "FAILED" in lines[1] and "unknown instance type" in lines[1]
        assert "$1.31" in lines[2]

    def test_history_as_json_respects_the_limit(self, store, capsys):
        code, out, _ = run_cli(capsys, "history", "densenet121", "--limit", "2", "--format", "json")
        assert code == 0
        runs = [RunRecord.model_validate(item) for item in json.loads(out)]
        assert [run.run_id for run in runs] == ["r42", "r41"]
        assert runs[0].parsed_recommendation().recommended.label == "ml.inf2.xlarge"

    def test_history_of_an_unknown_model_suggests_the_known_ones(self, store, capsys):
        code, out, err = run_cli(capsys, "history", "densenet12")
        assert code == 2 and out == ""
        assert err == (
            f"error: MODEL: no runs recorded for model 'densenet12' in table {TABLE} (did you mean densenet121?)\n"
        )
        code, _, err = run_cli(capsys, "history", "bert")
        assert code == 2 and "models with runs: densenet121, resnet50" in err

    def test_show_prints_candidates_and_the_recommendation(self, store, capsys):
        code, out, err = run_cli(capsys, "show", "r42")
        assert code == 0, err
        assert "densenet121 run r42: SUCCEEDED" in out
        assert "Recommended: ml.inf2.xlarge" in out
        skipped = next(line for line in out.splitlines() if "ml.inf2.8xlarge" in line)
        assert "SKIPPED" in skipped
        assert "ml.g5.2xlarge" in out and "FAILED" in out
        # The image each candidate ran: the winner's is the Neuron one.
        winner = next(line for line in out.splitlines() if "ml.inf2.xlarge" in line and "COMPLETED" in line)
        assert "pytorch-inference-neuronx" in winner

    def test_show_as_json_is_the_stored_run(self, store, capsys):
        code, out, _ = run_cli(capsys, "show", "r42", "--format", "json")
        assert code == 0
        view = RunView.model_validate(json.loads(out))
        expected = report_data.run_view(traffic=False)
        assert view.run.run_id == "r42" and len(view.candidates) == 20
        assert [c.status for c in view.candidates] == [c.status for c in expected.candidates]
        assert view.candidates[17].failure_reason == expected.candidates[17].failure_reason

    def test_show_an_unknown_run_names_the_closest_ids(self, store, capsys):
        code, _, err = run_cli(capsys, "show", "r4")
        assert code == 2
        assert err.startswith(f"error: RUN_ID: no run 'r4' in table {TABLE} (closest run ids: ")
        assert {"r40", "r41", "r42"} <= set(err.split("closest run ids: ")[1].rstrip(")\n").split(", "))

    def test_no_table_configured_is_one_clear_line(self, monkeypatch, capsys):
        monkeypatch.delenv("INFERCOST_TABLE_NAME", raising=False)
        code, out, err = run_cli(capsys, "history", "densenet121")
        assert code == 2 and out == ""
        assert err.startswith(
            "error: --table: no results table configured (pass --table NAME or --stack NAME"
        )
        assert len(err.splitlines()) == 1

    def test_the_table_comes_from_the_stack_outputs(self, store, monkeypatch, capsys):
        monkeypatch.delenv("INFERCOST_TABLE_NAME")
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"ResultsTableName": {"Value": TABLE}, "TopicArn": {"Value": {"Ref": "Topic"}}},
        }
        cloudformation.create_stack(StackName="infercost", TemplateBody=json.dumps(template))
        code, out, err = run_cli(
            capsys, "history", "densenet121", "--stack", "infercost", "--region", "us-east-1"
        )
        assert code == 0, err
        assert "r42" in out

    def test_a_stack_without_the_output_or_missing_is_reported(self, store, monkeypatch, capsys):
        monkeypatch.delenv("INFERCOST_TABLE_NAME")
        cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        template = {
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}},
        }
        cloudformation.create_stack(StackName="other", TemplateBody=json.dumps(template))
        code, _, err = run_cli(capsys, "show", "r42", "--stack", "other", "--region", "us-east-1")
        assert code == 2
        assert "stack 'other' has no output ResultsTableName (its outputs: TopicArn)" in err
        code, _, err = run_cli(capsys, "show", "r42", "--stack", "missing", "--region", "us-east-1")
        assert code == 2 and err.startswith("error: --stack: cannot read stack 'missing':")

    def test_report_of_a_run_computes_regressions_against_the_previous_run(self, store, tmp_path, capsys):
        out_file = tmp_path / "r42.html"
        code, _, err = run_cli(capsys, "report", "r42", "--out", str(out_file))
        assert code == 0, err
        assert f"wrote {out_file}" in err
        page = Page(out_file.read_text(encoding="utf-8"))
        expected = detect_regressions(
            report_data.recommendation(report_data.results_file(traffic=False)),
            report_data.recommendation(report_data.results_file(inf2_latency_factor=0.7, traffic=False)),
        )
        assert expected, "the fixture has regressions against r40"
        for regression in expected:
            assert regression.message in page.sections["regressions"]
        assert len(page.images) == 3  # no traffic profile, no monthly chart
        assert "run r42 · SUCCEEDED" in " ".join("".join(page.text).split())

    def test_report_of_a_results_file(self, monkeypatch, tmp_path, capsys):
        monkeypatch.setattr("infercost.report.html.render_charts", lambda report: {})
        results = tmp_path / "results.json"
        results.write_text(json.dumps(report_data.results_file().to_json()), encoding="utf-8")
        out_file = tmp_path / "report.html"
        code, _, err = run_cli(capsys, "report", str(results), "--out", str(out_file), "--slo", "p95:60")
        assert code == 0, err
        page = Page(out_file.read_text(encoding="utf-8"))
        assert "P95 ms" in page.table("ranking")["headers"]
        assert "results file" in page.sections["benchmark-cost"]

    def test_report_errors_are_one_line(self, store, tmp_path, capsys):
        code, _, err = run_cli(capsys, "report", "nope.json", "--out", str(tmp_path / "x.html"))
        assert (code, err) == (2, "error: no such file: nope.json (check the path)\n")
        code, _, err = run_cli(capsys, "report", "r42", "--out", str(tmp_path / "missing" / "x.html"))
        assert code == 2 and err.startswith("error: --out: cannot write")


@pytest.fixture
def local_endpoint():
    """A moto server on 127.0.0.1, as the local demo runs it; stopped after the test."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_history_against_the_local_demo_endpoint(local_endpoint, monkeypatch, capsys):
    monkeypatch.delenv("INFERCOST_TABLE_NAME", raising=False)
    client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=local_endpoint)
    seed(client)
    code, out, err = run_cli(
        capsys,
        "history",
        "densenet121",
        "--table",
        TABLE,
        "--endpoint-url",
        local_endpoint,
        "--region",
        "us-east-1",
    )
    assert code == 0, err
    assert "r42" in out and "r40" in out
    assert os.environ.get("INFERCOST_TABLE_NAME") is None
    assert Path(cli.__file__).parent.name == "cli"


class TestLookups:
    """The history module's lookups on an empty and a seeded table."""

    @pytest.fixture
    def empty(self):
        with mock_aws():
            client = boto3.client("dynamodb", region_name="us-east-1")
            create_table(client, TABLE)
            yield ResultsStore(client, TABLE)

    def test_an_empty_table_says_so(self, empty):
        with pytest.raises(InputError, match=r"the table has no runs yet"):
            find_run(empty, "r1", table_name=TABLE)
        with pytest.raises(InputError, match=r"the table has no runs yet"):
            model_history(empty, "densenet121", 5, table_name=TABLE)

    def test_a_run_id_like_no_other_points_to_history(self, empty):
        seed_view = report_data.run_view(traffic=False)
        assert empty.create_run(seed_view.run.model_copy(update={"recommendation": None}))
        with pytest.raises(InputError, match=r"see `infercost history MODEL` for run ids"):
            find_run(empty, "zzzzzz", table_name=TABLE)

    def test_regressions_stored_failed_or_first(self, empty):
        stored = report_data.run_view(traffic=False).run
        assert run_regressions(empty, stored) == stored.regressions
        failed = stored.model_copy(update={"regressions": None, "status": "FAILED"})
        assert run_regressions(empty, failed) == []
        first = stored.model_copy(update={"regressions": None})
        assert empty.create_run(first)
        assert run_regressions(empty, first) == []

    def test_a_stack_needs_a_cloudformation_client(self):
        with pytest.raises(InputError, match="--stack"):
            resolve_table_name(table=None, stack="infercost", cloudformation=None, environ={})
        assert resolve_table_name(table=None, stack=None, environ={"INFERCOST_TABLE_NAME": " t "}) == "t"
        assert resolve_table_name(table="a", stack="b", environ={}) == "a"
