"""`infercost loadtest`: one command from payload file to percentiles, against a local server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from infercost.cli import main
from infercost.domain.results import ResultsFile
from infercost.local.model_server import ModelServer, sample_payload
from infercost.local.profiles import SpeedProfile, fixed_delay
from infercost.measurement.targets import clear_endpoint_resolvers, register_endpoint_resolver


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.json"
    path.write_bytes(sample_payload())
    return path


@pytest.fixture
def server_url() -> Iterator[str]:
    with ModelServer(fixed_delay(2), max_lifetime_s=60) as server:
        yield server.url


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_shows_every_level_and_the_max_rps_at_slo(
    server_url: str, payload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["loadtest", "--url", server_url, "--payload", str(payload), "--warmup", "5"]
    argv += ["--requests", "30", "--concurrency", "1,4", "--slo", "p90:200"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "Client-side latency (ms)" in out and "p90" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["1", "4"]
    assert "Max throughput meeting P90 ≤ 200 ms:" in out and "req/s" in out


def test_json_is_a_results_file_that_recommend_can_read(
    server_url: str, payload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["loadtest", "--url", server_url, "--payload", str(payload), "--warmup", "2", "--requests", "20"]
    argv += ["--concurrency", "1,2", "--slo", "p50:100", "--format", "json"]
    argv += ["--instance-type", "ml.c7g.large", "--model", "tiny-mlp"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    document = json.loads(out)
    results = ResultsFile.model_validate(document)
    assert results.model == "tiny-mlp" and results.results[0].source == "client"
    assert results.results[0].invocations == 20 and results.results[0].errors == 0
    assert results.results[0].max_rps_at_slo is not None
    assert [level["concurrency"] for level in document["loadtest"]["sweep"]] == [2]


def test_an_endpoint_name_reaches_a_local_server_through_a_resolver(
    server_url: str, payload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    register_endpoint_resolver(lambda name: server_url if name == "local-ep" else None)
    try:
        code, out, _ = run(
            [
                "loadtest",
                "--endpoint",
                "local-ep",
                "--payload",
                str(payload),
                "--warmup",
                "0",
                "--requests",
                "5",
            ],
            capsys,
        )
    finally:
        clear_endpoint_resolvers()
    assert code == 0 and "SageMaker endpoint local-ep" in out
    row = next(line for line in out.splitlines() if line.startswith("│"))
    assert row.split("│")[2].strip() == "5" and row.split("│")[3].strip() == "0"  # 5 requests, 0 errors


def test_errors_in_the_run_are_shown_with_the_latencies(
    payload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = SpeedProfile(noop=True, fail_every=5, fail_status=500)
    with ModelServer(profile) as server:
        code, out, _ = run(
            ["loadtest", "--url", server.url, "--payload", str(payload), "--warmup", "0", "--requests", "20"],
            capsys,
        )
    assert code == 0
    assert "4 errors of 20 (http_5xx 4)" in out and "successes only" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--payload", "/nonexistent/payload.json", "--url", "http://127.0.0.1:9"], "--payload: cannot read"),
        (["--url", "http://127.0.0.1:9", "--endpoint", "ep"], "exactly one of --endpoint NAME or --url URL"),
        (["--concurrency", "1,two"], "--concurrency: expected numbers"),
        (["--concurrency", "0"], "concurrency[0]"),
        (["--slo", "p91:80"], "--slo"),
        (["--format", "json"], "--instance-type: JSON output is a results file"),
        (["--format", "json", "--instance-type", "c7g"], "--instance-type"),
        (["--url", "https://127.0.0.1:9"], "--url: expected an http:// URL"),
        # A streaming URL is measured in tokens: it needs the prompts to send.
        (["--stream"], "--prompts: --stream with --url reads a streamed text answer: give --prompts FILE"),
    ],
)
def test_bad_arguments_are_one_line_errors_with_exit_code_2(
    extra: list[str], message: str, payload: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["loadtest", "--payload", str(payload)]
    if "--url" not in extra and "--endpoint" not in extra:
        argv += ["--url", "http://127.0.0.1:9"]
    code, _, err = run(argv + extra, capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_an_unreachable_url_is_a_one_line_error(payload: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["loadtest", "--url", "http://127.0.0.1:9", "--payload", str(payload)], capsys)
    assert code == 2
    assert "error: the first 5 requests to http://127.0.0.1:9/invocations all failed (connection)" in err
    assert "Traceback" not in err


def test_a_streaming_endpoint_shows_the_time_to_the_first_part(
    payload: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.sagemaker_runtime import SECRET, sagemaker_runtime

    with sagemaker_runtime() as runtime:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", runtime.url)  # type: ignore[attr-defined]
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
        monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
        argv = ["loadtest", "--endpoint", "stream-llm", "--stream", "--payload", str(payload)]
        code, out, err = run([*argv, "--warmup", "1", "--requests", "4"], capsys)
    assert code == 0, err
    assert "first byte p50" in out and "SageMaker endpoint stream-llm" in out
    row = next(line for line in out.splitlines() if line.startswith("│"))
    assert row.split("│")[2].strip() == "4"  # requests, no errors
