"""The local text model server and the LLM transports on real 127.0.0.1 streams: chunked text,
the event stream of InvokeEndpointWithResponseStream, a cut stream, the goodput sweep, the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from infercost.domain.models import Candidate, LoadPlan, Slo
from infercost.domain.results import ResultsFile
from infercost.domain.tokens import builtin_tokenizer
from infercost.domain.workload import LlmWorkload, TokenSlo
from infercost.local.model_server import ModelServer
from infercost.local.profiles import NOOP
from infercost.local.text_model import TextModel, TextProfile, chunked, generate, text_profile_for
from infercost.measurement.llm import LlmHttpTransport, LlmSageMakerTransport, Prompts, llm_stats
from infercost.measurement.loadtest import run_load_test, run_sweep_share
from infercost.measurement.results import LoadTestError
from infercost.measurement.sweep import SweepShare, merge_sweep_shares
from tests.unit.test_loadgen_cli import run

PROMPTS = ["Tell me about latency.", "Write a haiku.", "Why measure?"]
WORKLOAD = LlmWorkload(prompts=PROMPTS, max_new_tokens=12)
WHITESPACE = builtin_tokenizer("whitespace")


@pytest.fixture
def server() -> Iterator[ModelServer]:
    profile = TextProfile(ttft_ms=20, per_token_ms=2, slots=4, chunk_tokens=3)
    with ModelServer(NOOP, text=TextModel(profile), max_lifetime_s=60) as running:
        yield running


def test_generator_is_deterministic_and_chunks_carry_several_tokens() -> None:
    tokens = generate("a prompt", 40)
    assert tokens == generate("a prompt", 40) and len(tokens) == 40
    chunks = chunked(tokens, 3, seed=1)
    assert "".join(chunks) == "".join(tokens)
    assert any(len(chunk.split()) > 1 for chunk in chunks) and len(chunks) < len(tokens)


def test_profiles_differ_by_hardware() -> None:
    g5 = text_profile_for(Candidate(instance_type="ml.g5.xlarge"))
    g6e = text_profile_for(Candidate(instance_type="ml.g6e.xlarge"))
    cpu = text_profile_for(Candidate(instance_type="ml.c7g.large"))
    assert g6e.per_token_ms < g5.per_token_ms < cpu.per_token_ms
    assert cpu.ttft_ms > g5.ttft_ms


def test_chunked_text_is_counted_in_tokens_not_chunks(server: ModelServer) -> None:
    transport = LlmHttpTransport(server.url, Prompts.of(WORKLOAD, PROMPTS, WHITESPACE), timeout_s=5)
    try:
        result = run_load_test(transport, b"", LoadPlan(warmup=0, requests=6, concurrency=[1]))
    finally:
        transport.close()
    tokens = result.measured.llm
    assert tokens is not None and result.measured.ok == 6
    # Every answer has exactly max_new_tokens words, whatever the chunking.
    assert tokens.output_tokens == 6 * 12
    expected_input = 2 * sum(len(p.split()) for p in PROMPTS)
    assert tokens.input_tokens == expected_input
    assert tokens.ttft_ms is not None and 20 <= tokens.ttft_ms.p50 < 60
    # 2 ms decode steps; the first chunk may carry up to 3 tokens at TTFT, which (end to end −
    # TTFT) ÷ (tokens − 1) spreads over the answer, so ITL lies a little under the step.
    assert tokens.itl_ms is not None and 1 <= tokens.itl_ms.p50 < 6
    assert server.invocations == 6


def test_event_stream_via_the_runtime_path(server: ModelServer) -> None:
    prompts = Prompts.of(WORKLOAD, PROMPTS, WHITESPACE)
    transport = LlmSageMakerTransport("ep", prompts, timeout_s=5, endpoint_url=server.url)
    assert transport.path == "/endpoints/ep/invocations-response-stream"
    try:
        result = run_load_test(transport, b"", LoadPlan(warmup=0, requests=3, concurrency=[1]))
    finally:
        transport.close()
    assert result.measured.llm is not None and result.measured.llm.output_tokens == 3 * 12


def test_a_cut_stream_fails_with_its_cause() -> None:
    profile = TextProfile(ttft_ms=5, per_token_ms=1, slots=2, cut_after_tokens=4)
    with ModelServer(NOOP, text=TextModel(profile), max_lifetime_s=60) as cutting:
        transport = LlmHttpTransport(cutting.url, Prompts.of(WORKLOAD, PROMPTS, WHITESPACE), timeout_s=5)
        try:
            with pytest.raises(
                LoadTestError, match=r"all failed \(stream\).*mid-response.*response stream broke"
            ):
                run_load_test(transport, b"", LoadPlan(warmup=0, requests=5, concurrency=[1]))
        finally:
            transport.close()


def test_goodput_sweep_stops_past_saturation() -> None:
    # Two generations at once: concurrency 4 queues and adds no tokens per second.
    profile = TextProfile(ttft_ms=10, per_token_ms=4, slots=2, batch_penalty=0.0)
    slos = TokenSlo.parse_list("ttft:p90:1000")
    with ModelServer(NOOP, text=TextModel(profile), max_lifetime_s=60) as saturating:
        transport = LlmHttpTransport(
            saturating.url, Prompts.of(WORKLOAD, PROMPTS, WHITESPACE, slos), timeout_s=5
        )
        try:
            result = run_load_test(
                transport,
                b"",
                LoadPlan(warmup=0, requests=4, concurrency=[1, 2, 4, 8, 16], requests_per_level=16),
                slo=Slo(percentile="p90", max_latency_ms=5000),
            )
        finally:
            transport.close()
    # Past two slots more concurrency only queues: the sweep stops before its last levels.
    assert [level.concurrency for level in result.sweep][:2] == [2, 4] and len(result.sweep) <= 3
    assert any("past saturation" in note for note in result.notes)
    stats = llm_stats(result, max_error_rate=0.01)
    assert stats is not None and stats.concurrency in (2, 4, 8) and stats.output_tokens_per_s > 0


def test_a_token_slo_missed_leaves_no_goodput() -> None:
    profile = TextProfile(ttft_ms=30, per_token_ms=1, slots=4)
    slos = TokenSlo.parse_list("ttft:p90:5")
    with ModelServer(NOOP, text=TextModel(profile), max_lifetime_s=60) as slow:
        transport = LlmHttpTransport(slow.url, Prompts.of(WORKLOAD, PROMPTS, WHITESPACE, slos), timeout_s=5)
        try:
            result = run_load_test(transport, b"", LoadPlan(warmup=0, requests=3, concurrency=[1, 2]))
        finally:
            transport.close()
    assert result.measured.llm is not None and result.measured.llm.good == 0
    assert any("ttft p90" in note for note in result.notes)
    stats = llm_stats(result, max_error_rate=0.01)
    assert stats is not None and stats.output_tokens_per_s == 0 and stats.concurrency is None


def test_cli_loadtest_stream_prints_token_metrics(
    server: ModelServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps(p) for p in PROMPTS) + "\n")
    code, output, _ = run(
        [
            "loadtest",
            "--url",
            server.url,
            "--stream",
            "--prompts",
            str(prompts),
            "--max-new-tokens",
            "8",
            "--warmup",
            "1",
            "--requests",
            "4",
            "--concurrency",
            "1,2",
            "--slo",
            "ttft:p90:2000,itl:p90:200",
        ],
        capsys,
    )
    assert code == 0, output
    assert "TTFT p50" in output and "goodput tok/s" in output
    assert "Token SLO: TTFT P90 ≤ 2000 ms" in output


def test_cli_refuses_bad_prompts_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "prompts.jsonl"
    bad.write_text("not json\n")
    code, _, output = run(
        ["loadtest", "--url", "http://127.0.0.1:9", "--stream", "--prompts", str(bad)], capsys
    )
    assert code == 2
    assert "workload.prompts: line 1" in output


def test_cli_json_is_a_results_file_with_token_figures(
    server: ModelServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('"one prompt"\n')
    argv = ["loadtest", "--url", server.url, "--stream", "--prompts", str(prompts), "--max-new-tokens", "5"]
    argv += ["--warmup", "0", "--requests", "3", "--format", "json", "--instance-type", "ml.g5.xlarge"]
    code, stdout, stderr = run(argv, capsys)
    assert code == 0, stderr
    document = json.loads(stdout)
    llm = document["results"][0]["llm"]
    assert llm["output_tokens"] == 15 and llm["input_tokens"] == 6 and llm["tokenizer"] == "whitespace"
    ResultsFile.model_validate(document)


def test_sweep_shares_of_two_workers_merge_their_tokens(server: ModelServer) -> None:
    plan = LoadPlan(warmup=0, requests=2, concurrency=[1, 4], requests_per_level=8)
    shares = []
    for worker in range(2):
        transport = LlmHttpTransport(server.url, Prompts.of(WORKLOAD, PROMPTS, WHITESPACE), timeout_s=5)
        try:
            share = run_sweep_share(transport, b"", plan, worker=worker, workers=2)
        finally:
            transport.close()
        # Each share travels through S3 as JSON.
        shares.append(SweepShare.model_validate_json(share.model_dump_json()))
    (level,) = merge_sweep_shares(shares, plan, None).levels
    assert level.concurrency == 4 and level.llm is not None
    assert level.llm.output_tokens == 8 * 12 and level.llm.requests == 8
    assert level.llm.output_tokens_per_s == pytest.approx(
        sum(s.sweep[0].llm.output_tokens_per_s for s in shares)
    )
