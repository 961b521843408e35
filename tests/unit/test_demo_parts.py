"""The demo's parts that need no stack: its spec, options, candidate states and what it prints."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from infercost.cli.demo import DEMO_DEFAULT_CANDIDATES
from infercost.data.pricing.book import PriceBook
from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, EvaluationSpec, load_json_file
from infercost.domain.recommend import recommend
from infercost.domain.records import CandidateRecord, RunRecord, RunView
from infercost.domain.results import ResultsFile
from infercost.local import demo, demo_progress
from infercost.local.demo import (
    DEMO_CANDIDATES,
    DemoOptions,
    demo_spec,
    model_artifact,
    wait_until_interrupted,
)
from infercost.local.demo_outcome import DemoOutcome
from infercost.local.demo_progress import CandidateProgress, DemoProgress, planned_requests
from infercost.local.demo_view import DemoView, print_explore, print_outcome
from infercost.local.profiles import profile_for

SEED = Path(__file__).parent.parent / "fixtures" / "results" / "densenet_seed.json"
NOTHING = {"endpoints": [], "endpoint_configs": [], "models": [], "model_servers": []}


def test_the_cli_default_is_the_demo_default() -> None:
    assert DEMO_DEFAULT_CANDIDATES == demo.DEFAULT_CANDIDATES


def test_every_demo_candidate_is_valid_priced_distinct_and_the_first_ones_differ_in_speed() -> None:
    spec = EvaluationSpec.model_validate(demo_spec(len(DEMO_CANDIDATES)))
    book = PriceBook.load("us-east-1")
    for candidate in spec.candidates:
        book.check_candidate(candidate)
    labels = [candidate.label for candidate in spec.candidates]
    assert len(set(labels)) == len(labels) == 20
    # Small CPU, large CPU, GPU, serverless: four different simulated speeds and shapes.
    first = [profile_for(candidate) for candidate in spec.candidates[: demo.DEFAULT_CANDIDATES]]
    assert len({(p.base_latency_ms, p.workers, p.max_batch, p.cold_start_ms) for p in first}) == 4
    gpu = first[2]
    assert gpu.base_latency_ms * 2 < min(p.base_latency_ms for p in first[:2])
    # The payload is a real request for the local model.
    assert json.loads(spec.payload.body or "")["instances"]


@pytest.mark.parametrize("count", [1, 3, 10, 20])
def test_candidates_n_takes_the_first_n_of_the_fixed_list(count: int) -> None:
    spec = demo_spec(count)
    assert spec["candidates"] == [dict(candidate) for candidate in DEMO_CANDIDATES[:count]]
    assert demo_spec(count) == spec


def test_the_artifact_is_a_real_tar_gz() -> None:
    with tarfile.open(fileobj=io.BytesIO(model_artifact("m")), mode="r:gz") as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        assert json.loads(member.read())["model"] == "m"


def test_planned_requests_counts_warmup_measured_and_each_sweep_level() -> None:
    spec = EvaluationSpec.model_validate(demo_spec())
    load = spec.load
    assert load.workers == 2 and load.warmup == 5 and load.concurrency == [1, 4]
    # Each of the two sweep workers warms up with 3 requests, then sends half of the level's 40.
    assert planned_requests(load) == 5 + 40 + 40 + 2 * 3
    one_worker = load.model_copy(update={"workers": 1})
    assert planned_requests(one_worker) == 5 + 40 + 40
    single = load.model_copy(update={"concurrency": [1]})
    assert planned_requests(single) == load.warmup + load.requests


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DemoOptions(candidates=0), "--candidates: must be between 1 and 20, got 0"),
        (DemoOptions(candidates=21), "--candidates: must be between 1 and 20, got 21"),
        (DemoOptions(fail_at="sideways"), "--fail-at: unknown fault point 'sideways'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(options: DemoOptions, message: str) -> None:
    with pytest.raises(InputError) as raised:
        options.check()
    assert raised.value.one_line().startswith(message)


def test_an_out_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="--out: cannot create"):
        demo._output_dir(tmp_path / "file" / "below")


def record(status: str = "PENDING", **fields: Any) -> CandidateRecord:
    return CandidateRecord(
        run_id="r1", index=0, candidate=Candidate(instance_type="ml.c7g.large"), status=status, **fields
    )


RESULT = {
    "candidate": {"instance_type": "ml.c7g.large"},
    "latency_ms": {"avg": 30.0, "p50": 29.0, "p90": 33.25},
    "source": "cloudwatch",
}


@pytest.mark.parametrize(
    ("item", "endpoint", "answered", "state", "detail"),
    [
        (None, None, 0, "waiting", ""),
        (record(), None, 0, "waiting", ""),
        (record(), "Creating", 0, "creating endpoint", ""),
        (record(), "InService", 0, "in service", ""),
        (record(), "Failed", 0, "endpoint failed", ""),
        (record("RUNNING"), "InService", 0, "loading", ""),
        (record(), "InService", 12, "loading", ""),
        (record("RUNNING", client_latency_ms={"avg": 1.0}), "InService", 85, "collecting metrics", ""),
        (record("RUNNING", client_latency_ms={"avg": 1.0}, result=RESULT), None, 85, "tearing down", ""),
        (record("COMPLETED", result=RESULT), None, 85, "torn down", "P90 33.2 ms"),
        (record("COMPLETED"), None, 85, "torn down", ""),
        (record("FAILED", error="LoadTest raised"), None, 3, "failed", "LoadTest raised"),
        (record("SKIPPED", error="no quota"), None, 0, "skipped", "no quota"),
    ],
)
def test_a_candidate_state_follows_its_item_and_endpoint(
    item: CandidateRecord | None, endpoint: str | None, answered: int, state: str, detail: str
) -> None:
    assert demo_progress._candidate_state(item, endpoint, answered, "p90") == (state, detail)


def view(*candidates: CandidateRecord, **run: Any) -> RunView:
    return RunView(
        run=RunRecord(model="m", started_at="2026-01-01T00:00:00.000Z", run_id="r1", **run),
        candidates=list(candidates),
    )


def test_the_phase_follows_the_run() -> None:
    assert demo_progress._phase("SUCCEEDED", None, 1) == "SUCCEEDED"
    assert demo_progress._phase("RUNNING", None, 1) == "preparing"
    assert demo_progress._phase("RUNNING", view(), 1) == "preparing"
    # Prepare has written one of two candidate items so far.
    assert demo_progress._phase("RUNNING", view(record("PENDING")), 2) == "preparing"
    assert (
        demo_progress._phase("RUNNING", view(record("RUNNING")), 1)
        == "benchmarking candidates (0 of 1 finished)"
    )
    done = record("COMPLETED", result=RESULT)
    assert demo_progress._phase("RUNNING", view(done), 1) == "recommending"
    recommended = view(done, recommendation=seed_recommendation())
    assert demo_progress._phase("RUNNING", recommended, 1) == "writing the report"
    reported = view(done, recommendation=seed_recommendation(), report_key="reports/m/r1.html")
    assert demo_progress._phase("RUNNING", reported, 1) == "notifying"


def progress(state: str, *, answered: int = 0, detail: str = "", phase: str = "benchmarking") -> DemoProgress:
    item = CandidateProgress(
        index=0,
        label="ml.c7g.large",
        state=state,
        answered=answered,
        planned=85,
        detail=detail,  # type: ignore[arg-type]
    )
    return DemoProgress(
        elapsed_s=1.5, run_id="abc", status="RUNNING", phase=phase, candidates=[item], started_by="uploaded x"
    )


def test_the_log_view_prints_one_line_per_change() -> None:
    out = io.StringIO()
    with DemoView(Console(file=out, width=200)) as shown:
        shown.update(progress("loading", answered=10))
        shown.update(progress("loading", answered=20))
        shown.update(progress("torn down", answered=85, detail="P90 [33.2] ms"))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("uploaded x") and lines[1].endswith("run abc: benchmarking")
    assert [line.strip().split("  ", 1)[1] for line in lines[2:]] == [
        "#0 ml.c7g.large: loading",
        "#0 ml.c7g.large: torn down (85 requests answered) — P90 [33.2] ms",
    ]


def test_the_terminal_view_redraws_a_table_with_bars() -> None:
    out = io.StringIO()
    with DemoView(Console(file=out, width=120, force_terminal=True)) as shown:
        assert shown.live is not None
        shown.update(progress("loading", answered=40))
        shown.update(progress("torn down", answered=85, detail="P90 33.2 ms"))
    assert shown.live is None
    text = out.getvalue()
    assert text.count("infercost demo · run abc · benchmarking") >= 2
    assert "40/85" in text and "85/85" in text and "█" * 16 in text
    assert "simulated" in text


def seed_recommendation() -> Any:
    results = ResultsFile.model_validate(load_json_file(SEED))
    return recommend(results, PriceBook.load("us-east-1"))


def outcome(**fields: Any) -> DemoOutcome:
    base: dict[str, Any] = {
        "run_id": "abc",
        "status": "SUCCEEDED",
        "execution_status": "SUCCEEDED",
        "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:x:y",
        "model": "densenet121",
        "endpoints_left": 0,
        "candidates_completed": 3,
        "left_running": NOTHING,
        "leftovers": 0,
        "dynamodb": {"table": "t", "items": 6, "items_by_kind": {"candidate": 3, "run": 1}},
        "report": "out/report-abc.html",
        "report_source": "s3://b/reports/abc.html",
        "results": "out/results-abc.json",
        "notifications": {"sns": 1, "slack": 1, "sns_subjects": ["infercost densenet121: use x"]},
        "wall_seconds": 20.0,
        "stack_start_seconds": 7.0,
        "run_seconds": 12.5,
        "simulated": "simulated by declared speed profiles",
    }
    return DemoOutcome.model_validate(base | fields)


def printed(result: DemoOutcome) -> str:
    out = io.StringIO()
    print_outcome(result, Console(file=out, width=200))
    return out.getvalue()


def test_a_successful_outcome_prints_the_ranking_and_nothing_left() -> None:
    answer = seed_recommendation()
    result = outcome(recommendation=answer)
    text = printed(result)
    assert result.exit_code == 0 and "recommendation" not in result.to_json()
    assert f"Recommended: {answer.recommended.label}" in text and "$/100k" in text
    assert "Run abc SUCCEEDED in 12.5 s (the whole demo 20.0 s)." in text
    assert "Report:  out/report-abc.html" in text and "infercost recommend out/results-abc.json" in text
    assert "DynamoDB: 6 items written to table t (3 candidate, 1 run)." in text
    assert "Notifications: 1 on SNS (“infercost densenet121: use x”), 1 to Slack" in text
    assert "0 endpoints left running (0 endpoint configs, 0 models, 0 model servers" in text
    assert "Simulated: simulated by declared speed profiles" in text


def test_a_failed_outcome_with_leftovers_says_so_and_exits_1() -> None:
    candidate = {
        "index": 0,
        "candidate": {"instance_type": "ml.c7g.large"},
        "label": "ml.c7g.large",
        "status": "FAILED",
        "error": "boom [x]",
    }
    left = {**NOTHING, "endpoints": ["infercost-abc-00-c7g-large"], "model_servers": ["infercost-abc-00"]}
    result = outcome(
        status="FAILED",
        execution_status="ABORTED",
        error="the demo's evaluation did not finish within 1 s",
        candidates=[candidate],
        endpoints_left=1,
        left_running=left,
        leftovers=2,
        candidates_completed=0,
        report=None,
        results=None,
        fail_at="load-test",
        notifications={"sns": 0, "slack": 0, "sns_subjects": []},
    )
    text = printed(result)
    assert result.exit_code == 1 and not result.nothing_left
    assert "densenet121: candidates" in text and "boom [x]" in text
    assert "FAILED in 12.5 s" in text and "with the fault 'load-test' injected" in text
    assert "error: the demo's evaluation did not finish within 1 s" in text
    assert (
        "1 endpoints left running (0 endpoint configs, 0 models, 1 model servers): infercost-abc-00-c7g-large"
        in text
    )
    assert "Report:" not in text and "Notifications: 0 on SNS, 0 to Slack" in text
    assert outcome(left_running=left).exit_code == 1


def test_explore_prints_each_command_on_its_own_line() -> None:
    out = io.StringIO()
    print_explore(
        ["infercost history m --endpoint-url http://127.0.0.1:1"], "http://127.0.0.1:1", Console(file=out), 60
    )
    text = out.getvalue()
    assert "keeps running at http://127.0.0.1:1 until you press Ctrl-C (at most 60 minutes)" in text
    assert "\n  infercost history m --endpoint-url http://127.0.0.1:1\n" in text


def test_wait_until_interrupted_ends_at_ctrl_c_or_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    assert wait_until_interrupted(0.05, tick_s=0.01) is False

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo.time, "sleep", interrupted)
    assert wait_until_interrupted(60) is True


def test_a_session_that_has_not_started_has_no_stack(tmp_path: Path) -> None:
    session = demo.DemoSession(DemoOptions(out=tmp_path))
    with pytest.raises(RuntimeError, match="has not started"):
        _ = session.running
    session.__exit__(None, None, None)
