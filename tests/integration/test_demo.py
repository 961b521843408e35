"""`infercost demo` as a user runs it: the real workflow on the local stack, for the normal case
and with a fault injected at every point, and nothing left running afterwards.

The normal case runs through `main()` in --json mode with a stack of its own, to prove that
every thread and port stops with it. The fault runs share one stack in server mode (the demo's
own mode) with a short load plan. The console script runs in a subprocess in table mode with
--keep-running, and another process explores the stack it keeps up.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from infercost.cli import main
from infercost.cli.demo import DEMO_DEFAULT_CANDIDATES
from infercost.domain.models import Candidate
from infercost.local.demo import DEMO_CANDIDATES, DemoOptions, run_demo
from infercost.local.demo_outcome import DemoOutcome
from infercost.local.faults import FAULT_POINTS
from infercost.local.stack import EmbeddedStack
from tests.integration.workflow_support import failed_events

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

SCRIPT = Path(sys.executable).parent / "infercost"
LABELS = [Candidate.model_validate(candidate).label for candidate in DEMO_CANDIDATES]
# Fault runs evaluate two candidates (the fault hits the first, the second carries the run) with
# a short load: what they prove is the workflow's answer to the fault, not the measurement.
FAULT_CANDIDATES = 2
# Short, but with a sweep shared by two workers, as the demo's own load has (`load-worker` needs it).
FAULT_LOAD = {"warmup": 2, "requests": 10, "concurrency": [1, 2], "requests_per_level": 8, "workers": 2}
NOTHING = {"endpoints": [], "endpoint_configs": [], "models": [], "model_servers": []}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """The CLI in-process, as the console script runs it: (exit code, stdout, stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_cli_json(*argv: str) -> tuple[int, Any, str]:
    done = subprocess.run([str(SCRIPT), *argv], capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout or "null"), done.stderr


def assert_common(outcome: DemoOutcome | dict[str, Any], candidates: int) -> dict[str, Any]:
    """What holds after every demo run, whatever failed: checked on the --json object."""
    data = outcome.to_json() if isinstance(outcome, DemoOutcome) else outcome
    assert data["endpoints_left"] == 0 and data["leftovers"] == 0 and data["left_running"] == NOTHING
    completed = [c for c in data["candidates"] if c["status"] == "COMPLETED"]
    assert data["candidates_completed"] == len(completed)
    assert (
        0 <= data["stack_start_seconds"] < data["wall_seconds"] and data["run_seconds"] < data["wall_seconds"]
    )
    assert [c["label"] for c in data["candidates"]] == LABELS[:candidates]
    # One run item, one per candidate, the trigger guard and the model's registry entry.
    assert data["dynamodb"]["items"] == 3 + candidates
    assert data["dynamodb"]["items_by_kind"] == {"candidate": candidates, "model": 1, "run": 1, "trigger": 1}
    # Exactly one message per run on each channel, whatever the outcome.
    assert data["notifications"]["sns"] == 1 and data["notifications"]["slack"] == 1
    report = Path(data["report"])
    assert report.name == f"report-{data['run_id']}.html"
    text = report.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html") and "Simulated hardware" in text
    assert "simulated" in data["simulated"]
    return data


class Recorder:
    """Ports the demo's own stack binds (moto first, then the Slack stand-in and model servers)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from infercost.local import model_server, stack, webhook

        self.urls: list[str] = []
        for owner, name in (
            (stack, "free_port"),
            (webhook.WebhookReceiver, "start"),
            (model_server.ModelServer, "start"),
        ):
            monkeypatch.setattr(owner, name, self._recording(getattr(owner, name)))

    def _recording(self, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            value = original(*args, **kwargs)
            self.urls.append(f"http://127.0.0.1:{value}" if isinstance(value, int) else str(value))
            return value

        return wrapper

    def ports(self) -> set[int]:
        return {port for url in self.urls if (port := urlsplit(url).port)}


def closed(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_normal_run_in_json_then_every_thread_and_port_is_stopped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = Recorder(monkeypatch)
    threads_before = set(threading.enumerate())

    code, out, err = run(capsys, "demo", "--json", "--out", str(tmp_path / "out"))

    assert code == 0, err
    data = assert_common(json.loads(out), DEMO_DEFAULT_CANDIDATES)
    assert data["status"] == "SUCCEEDED" and data["error"] is None
    assert data["candidates_completed"] == DEMO_DEFAULT_CANDIDATES and data["stack_start_seconds"] > 0.5
    for candidate in data["candidates"]:
        assert set(candidate["latency_ms"]) >= {"p50", "p90", "p95", "p99", "avg"}
        assert candidate["latency_source"] == "cloudwatch" and candidate["cost_per_100k_usd"] > 0
        assert candidate["error"] is None
        # The demo prices from the bundled snapshot, never the Price List API, and says how far
        # each price can be trusted.
        assert candidate["price_basis"] in ("published", "corroborated", "derived")
    # The recommendation is the cheapest candidate that meets the SLO, or none.
    passing = sorted((c for c in data["candidates"] if c["meets_slo"]), key=lambda c: c["cost_per_100k_usd"])
    assert (data["recommended"] or {}).get("label") == (passing[0]["label"] if passing else None)
    assert (
        data["reason"]
        and data["report_source"].startswith("s3://")
        and "/reports/tiny-mlp/" in data["report"] + data["report_source"]
    )
    assert data["notifications"]["sns_subjects"][0].startswith("infercost tiny-mlp: ")
    # Progress went to stderr, one line per change: the candidates were seen loading and torn down.
    assert "EventBridge started execution" in err
    # Each answered warm-up 5 + measured 40 + the sweep's 40, and a warm-up of 3 per sweep worker.
    for label in LABELS[:DEMO_DEFAULT_CANDIDATES]:
        assert f"{label}: loading" in err and f"{label}: torn down (91 requests answered)" in err
    assert "HTTP/1.1" not in err, "the moto server's request log leaked"
    # The results file is what `infercost recommend` reads, and ranks the same way.
    results = json.loads(Path(data["results"]).read_text())
    assert results["schema"] == "infercost.results/v1" and len(results["results"]) == DEMO_DEFAULT_CANDIDATES
    priced = [result for result in results["results"] if "price_per_hour_usd" in result]
    assert priced and {(result["price_source"], bool(result["price_basis"])) for result in priced} == {
        ("snapshot", True)
    }
    status, ranking, _ = run_cli_json("recommend", data["results"], "--format", "json")
    assert status == 0
    assert [r["label"] for r in ranking["ranked"]] == [
        c["label"] for c in sorted(data["candidates"], key=lambda c: c["rank"])
    ]
    # Everything the demo started has stopped: its ports are closed, its threads are gone.
    assert urlsplit(recorder.urls[0]).port == urlsplit(data["endpoint_url"]).port
    assert len(recorder.ports()) == 2 + DEMO_DEFAULT_CANDIDATES
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and set(threading.enumerate()) - threads_before:
        time.sleep(0.1)
    assert set(threading.enumerate()) - threads_before == set()
    assert [t for t in threading.enumerate() if not t.daemon] == [threading.main_thread()]
    assert all(closed(port) for port in recorder.ports())


CANDIDATE_FAULTS = {
    "create-endpoint": ("FAILED", "account-level service limit"),
    "endpoint-failed": ("FAILED", "ping health check"),
    "load-worker": ("FAILED", "LoadWorker raised on purpose"),
    "load-test": ("FAILED", "LoadTest raised on purpose"),
    "collect-metrics": ("FAILED", "CollectMetrics raised on purpose"),
    "no-quota": ("SKIPPED", "no endpoint quota left for ml.c7g.large"),
    "stuck-creating": ("FAILED", "the scheduled janitor deletes it then"),
}
RETRIED = {"teardown-once": "TeardownIncomplete", "throttle-create-endpoint": "Rate exceeded"}


def test_every_fault_point_is_covered_here() -> None:
    assert {*CANDIDATE_FAULTS, *RETRIED, "recommend"} == set(FAULT_POINTS)


def completed_candidates_measured_only_the_serial_run(stack: EmbeddedStack, run_id: str) -> None:
    """Server-side (CloudWatch) latency of each request is within its client-side latency."""
    view = stack.store.get_run(run_id)
    assert view is not None
    for record in view.candidates:
        if record.status == "COMPLETED":
            assert record.server_latency_ms and record.client_latency_ms
            assert record.server_latency_ms["avg"] <= record.client_latency_ms["avg"] + 0.01


class TestFaultsOnASharedStack:
    """One stack in server mode for every fault; the class scope stops it before others start."""

    @pytest.fixture(scope="class")
    def shared(self) -> Iterator[EmbeddedStack]:
        with EmbeddedStack(mode="server", slack=True) as stack:
            yield stack
        assert stack.leaked_servers == []

    @staticmethod
    def demo(shared: EmbeddedStack, tmp_path: Path, point: str) -> tuple[DemoOutcome, dict[str, Any]]:
        options = DemoOptions(
            candidates=FAULT_CANDIDATES, out=tmp_path, fail_at=point, model=f"demo-{point}", load=FAULT_LOAD
        )
        outcome = run_demo(options, stack=shared)
        # The demo leaves a shared stack as it found it: faults off, quota table restored.
        assert shared.faults.points == frozenset()
        assert shared.quotas == {} and shared.runtime is not None and shared.runtime.quotas == {}
        return outcome, assert_common(outcome, FAULT_CANDIDATES)

    @pytest.mark.parametrize("point", sorted(CANDIDATE_FAULTS))
    def test_a_candidate_fault_fails_only_that_candidate(
        self, shared: EmbeddedStack, tmp_path: Path, point: str
    ) -> None:
        outcome, data = self.demo(shared, tmp_path, point)

        status, message = CANDIDATE_FAULTS[point]
        hit, rest = data["candidates"]
        assert data["status"] == "SUCCEEDED" and outcome.exit_code == 0
        assert hit["status"] == status and message in hit["error"], hit
        assert hit["latency_ms"] is None and hit["rank"] is None
        assert rest["status"] == "COMPLETED" and rest["error"] is None and rest["rank"] == 1
        # The recommendation is made from the rest, and lists the failed candidate with its reason.
        assert outcome.recommendation is not None
        assert [item.label for item in outcome.recommendation.ranked] == [rest["label"]]
        assert [(f.candidate.label, f.status) for f in outcome.recommendation.failures] == [
            (hit["label"], status)
        ]
        results = json.loads(Path(data["results"]).read_text())
        assert [(f["status"], f["error"]) for f in results["failures"]] == [(status, hit["error"])]
        # Only an endpoint stuck in Creating outlives the run, until the janitor's next pass.
        stuck = hit["endpoint_name"]
        expected = [f"{kind} {stuck}" for kind in ("endpoint", "endpoint-config", "model")]
        assert data["janitor_deleted"] == (expected if point == "stuck-creating" else [])

    @pytest.mark.parametrize("point", sorted(RETRIED))
    def test_a_fault_that_a_retry_absorbs_changes_nothing(
        self, shared: EmbeddedStack, tmp_path: Path, point: str
    ) -> None:
        outcome, data = self.demo(shared, tmp_path, point)

        assert data["status"] == "SUCCEEDED" and outcome.exit_code == 0
        assert [c["status"] for c in data["candidates"]] == ["COMPLETED"] * FAULT_CANDIDATES
        assert all(c["error"] is None for c in data["candidates"])
        assert outcome.recommendation is not None and len(outcome.recommendation.ranked) == FAULT_CANDIDATES
        # The fault did fire, and a Retry, not a Catch, handled it.
        errors = failed_events(shared, data["execution_arn"])
        assert any(RETRIED[point] in error for error in errors), errors
        completed_candidates_measured_only_the_serial_run(shared, data["run_id"])

    def test_a_failing_recommend_fails_the_run_recorded_and_notified(
        self, shared: EmbeddedStack, tmp_path: Path
    ) -> None:
        outcome, data = self.demo(shared, tmp_path, "recommend")

        assert data["status"] == "FAILED" and data["execution_status"] == "FAILED" and outcome.exit_code == 1
        assert "Recommend raised on purpose" in data["error"]
        assert data["recommended"] is None and data["reason"] is None
        # Recorded: the run item says FAILED with the reason; notified: the subject says so.
        view = shared.store.get_run(data["run_id"])
        assert view is not None and view.run.status == "FAILED" and view.run.error == data["error"]
        assert "run FAILED" in data["notifications"]["sns_subjects"][0]
        # No Report state ran: the demo renders the stored run itself.
        assert data["report_source"].startswith("rendered from the stored run")
        assert "Recommend raised on purpose" in Path(data["report"]).read_text(encoding="utf-8")
        assert [c["status"] for c in data["candidates"]] == ["COMPLETED"] * FAULT_CANDIDATES


@pytest.mark.parametrize(
    ("argv", "field"),
    [
        (["--fail-at", "nowhere"], "--fail-at: unknown fault point 'nowhere' (one of create-endpoint,"),
        (["--candidates", "0"], "--candidates: must be between 1 and 20, got 0"),
        (["--candidates", "21"], "--candidates: must be between 1 and 20, got 21"),
    ],
)
def test_invalid_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], field: str
) -> None:
    code, out, err = run(capsys, "demo", "--out", str(tmp_path), *argv)

    assert code == 2 and out == ""
    assert err.startswith(f"error: {field}") and err.count("\n") == 1
    if argv[0] == "--fail-at":
        assert all(point in err for point in FAULT_POINTS)


def test_out_that_is_a_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "demo", "--out", str(blocker))
    assert code == 2 and err == f"error: --out: {blocker} is a file, not a directory\n"


def test_console_script_in_table_mode_keeps_the_stack_up_until_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [str(SCRIPT), "demo", "--candidates", "1", "--keep-running", "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    # stderr (the live view) drains on its own; stdout is read line by line through one buffered
    # reader to the end: communicate() would read the pipe past lines readline() already buffered.
    assert process.stdout is not None and process.stderr is not None
    stderr, errors = process.stderr, []
    drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    drain.start()
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("infercost show" in line for line in lines):
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
        text = "".join(lines)
        show = next(line.split() for line in lines if line.strip().startswith("infercost show"))
        run_id, url, table = show[2], show[show.index("--endpoint-url") + 1], show[show.index("--table") + 1]
        # The stack stays up: another process reads the run through the printed endpoint.
        code, runs, err = run_cli_json(
            "history",
            "tiny-mlp",
            "--format",
            "json",
            "--endpoint-url",
            url,
            "--table",
            table,
            "--region",
            "us-east-1",
        )
        assert code == 0, err
        assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "SUCCEEDED")]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        rest = process.stdout.read()
        drain.join(timeout=30)
        err = "".join(errors)
    assert process.returncode == 0, err
    # Table mode: the ranked table, the verdict, where things went, and what is left.
    assert "tiny-mlp in us-east-1 — SLO P90 ≤ 30 ms" in text and "$/100k" in text and LABELS[0] in text
    assert "No candidate meets the SLO." in text or "Recommended:" in text
    assert f"Run {run_id} SUCCEEDED" in text and f"report-{run_id}.html" in text
    assert "0 endpoints left running" in text and "simulated" in text
    assert "until you press Ctrl-C" in text and f"infercost report {run_id} --out report.html" in rest
    # The live view went to stderr (stdout is a pipe) and the process stopped its stack.
    assert "torn down" in err and closed(urlsplit(url).port or 0)
