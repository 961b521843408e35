"""`infercost import`: AIPerf's, GenAI-Perf's and GuideLLM's exports as infercost results.

The fixtures (tests/fixtures/aiperf and tests/fixtures/guidellm, see their READMEs) follow the
tools' own export models; GenAI-Perf's export has AIPerf's metric objects.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from infercost.cli import main
from infercost.domain.errors import InputError
from infercost.domain.guidellm_results import from_guidellm
from infercost.domain.models import Candidate
from infercost.domain.peer_results import from_aiperf
from infercost.domain.results import ResultsFile

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "aiperf"
AIPERF = FIXTURES / "profile_export_aiperf.json"
GENAI_PERF = FIXTURES / "profile_export_genai_perf.json"
G5 = Candidate(instance_type="ml.g5.2xlarge")


def aiperf() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(AIPERF.read_text())
    return data


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, data: Any, name: str = "export.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# --- the mapping -------------------------------------------------------------------------------


def test_an_aiperf_export_maps_onto_a_candidate_result() -> None:
    result = from_aiperf(aiperf(), candidate=G5)

    assert result.candidate == G5
    assert result.latency_ms.model_dump() == {
        "avg": 7386.412,
        "p50": 7352.771,
        "p90": 7702.955,
        "p95": 7841.602,
        "p99": 8127.347,
        "max": 8233.506,
    }
    assert (result.invocations, result.errors, result.source) == (202, 2, "client")
    assert result.imported_from == (
        "aiperf 0.5.0 (benchmark 5d3f6c1e-8b2a-4c1e-9d7a-2f4b6e8a0c11, started 2026-11-20T14:02:11.408213)"
    )
    llm = result.llm
    assert llm is not None
    assert (llm.ttft_ms.avg, llm.ttft_ms.p90, llm.itl_ms.avg, llm.itl_ms.p99) == (
        183.547,
        281.337,
        28.412,
        30.651,
    )
    assert llm.output_tokens_per_s == 270.615
    assert llm.input_tokens_per_s == pytest.approx(110000 / 184.77)
    assert (llm.input_tokens, llm.output_tokens, llm.requests) == (110000, 50000, 200)
    assert (llm.concurrency, llm.tokenizer) == (8, "meta-llama/Llama-3.1-8B-Instruct")


@pytest.mark.parametrize(
    ("unit", "scale"), [("sec", 1e-3), ("s", 1e-3), ("us", 1e3), ("ns", 1e6), ("ms", 1.0)]
)
def test_time_units_are_converted_to_milliseconds(unit: str, scale: float) -> None:
    data = aiperf()
    for tag in ("request_latency", "time_to_first_token", "inter_token_latency"):
        data[tag] = {k: (v * scale if k != "unit" else unit) for k, v in data[tag].items()}
    result = from_aiperf(data, candidate=G5)
    assert result.latency_ms.avg == pytest.approx(7386.412)
    assert result.latency_ms.p99 == pytest.approx(8127.347)
    assert result.llm is not None and result.llm.itl_ms.avg == pytest.approx(28.412)


def test_a_non_streaming_run_has_latency_and_no_token_stats() -> None:
    data = aiperf()
    for tag in ("time_to_first_token", "inter_token_latency", "output_token_throughput"):
        del data[tag]
    result = from_aiperf(data, candidate=G5)
    assert result.llm is None and result.latency_ms.avg == 7386.412


def test_a_genai_perf_export_reads_the_same_way() -> None:
    data = json.loads(GENAI_PERF.read_text())
    result = from_aiperf(data, candidate=G5)
    assert result.imported_from == "aiperf or genai-perf (no version in the export)"
    assert result.llm is not None and result.llm.concurrency == 8
    assert result.llm.output_tokens_per_s == 305.436
    assert result.invocations is None and result.errors == 0  # GenAI-Perf writes no request_count


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("request_latency"), "request_latency"),
        (lambda d: d["request_latency"].pop("avg"), "request_latency.avg"),
        (lambda d: d["request_latency"].update(unit="furlongs"), "request_latency.unit"),
        (lambda d: d["request_latency"].update(p90="fast"), "request_latency.p90"),
        (lambda d: d.pop("inter_token_latency"), "inter_token_latency"),
        (lambda d: d.pop("output_token_throughput"), "output_token_throughput"),
        (lambda d: d["output_token_throughput"].update(unit="tokens"), "output_token_throughput.unit"),
        (lambda d: d.update(time_to_first_token=12), "time_to_first_token"),
    ],
)
def test_a_missing_or_bad_metric_names_its_field(change: Any, field: str) -> None:
    data = copy.deepcopy(aiperf())
    change(data)
    with pytest.raises(InputError) as caught:
        from_aiperf(data, candidate=G5)
    assert caught.value.field == field
    assert "\n" not in caught.value.one_line()


# --- the command -------------------------------------------------------------------------------


def test_import_writes_a_results_file_that_recommend_ranks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "results.json"
    code, _, err = run(
        capsys,
        "import",
        "--from",
        "aiperf",
        str(AIPERF),
        "--instance-type",
        "ml.g5.2xlarge",
        "--out",
        str(out),
    )
    assert code == 0, err
    assert "wrote ml.g5.2xlarge (aiperf 0.5.0" in err

    written = json.loads(out.read_text())
    assert written["schema"] == "infercost.results/v1"
    assert written["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    # The token measurements survive the file: what was imported is what recommend reads.
    parsed = ResultsFile.model_validate(written)
    assert parsed.results[0].llm == from_aiperf(aiperf(), candidate=G5).llm
    assert parsed.results[0].imported_from is not None

    code, ranked, err = run(capsys, "recommend", str(out), "--slo", "p90:8000", "--format", "json")
    assert code == 0, err
    answer = json.loads(ranked)
    assert answer["recommended"]["label"] == "ml.g5.2xlarge"
    assert answer["ranked"][0]["latency_ms"]["p90"] == 7702.955


def test_append_collects_candidates_into_one_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    model = "meta-llama/Llama-3.1-8B-Instruct"
    first = (
        "import",
        "--from",
        "aiperf",
        str(AIPERF),
        "--instance-type",
        "ml.g5.2xlarge",
        "--out",
        str(results),
    )
    assert run(capsys, *first)[0] == 0
    code, _, err = run(
        capsys,
        "import",
        "--from",
        "genai-perf",
        str(GENAI_PERF),
        "--instance-type",
        "ml.g6.2xlarge",
        "--append",
        str(results),
        "--model",
        model,
        "--slo",
        "p90:5000",
    )
    assert code == 0, err
    written = ResultsFile.model_validate(json.loads(results.read_text()))
    assert [r.candidate.label for r in written.results] == ["ml.g5.2xlarge", "ml.g6.2xlarge"]
    assert written.slo is not None and written.slo.max_latency_ms == 5000

    code, _, err = run(
        capsys,
        "import",
        "--from",
        "genai-perf",
        str(GENAI_PERF),
        "--instance-type",
        "ml.g6.xlarge",
        "--append",
        str(results),
    )
    assert code == 2
    assert err.startswith("error: --model: ") and "holds results of meta-llama/Llama-3.1-8B-Instruct" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not valid JSON"),
        (
            {"benchmarks": []},
            "benchmarks: looks like a GuideLLM report, not AIPerf's export (use --from guidellm)",
        ),
        ({"schema": "infercost.results/v1"}, "schema: is already an infercost results file"),
        ({"metadata": {}, "metrics": {}, "error": None}, "metrics: looks like one per-request record"),
        ([1, 2], "(top level): is a JSON list"),
        ({"request_count": {"unit": "requests", "avg": 3}}, "request_latency: missing from the export"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: Any, expected: str
) -> None:
    path = write(tmp_path, content)
    code, out, err = run(capsys, "import", "--from", "aiperf", path, "--instance-type", "ml.g5.2xlarge")
    assert code == 2 and out == ""
    assert expected in err and err.count("\n") == 1


def test_a_bad_instance_type_or_no_model_names_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "import", "--from", "aiperf", str(AIPERF), "--instance-type", "g5.2xlarge")
    assert code == 2 and err.startswith("error: --instance-type: ")

    unnamed = aiperf()
    del unnamed["input_config"]
    code, _, err = run(
        capsys, "import", "--from", "aiperf", write(tmp_path, unnamed), "--instance-type", "ml.g5.2xlarge"
    )
    assert code == 2 and err.startswith("error: --model: the export does not name its model")


# --- GuideLLM ----------------------------------------------------------------------------------

GUIDELLM = Path(__file__).resolve().parents[1] / "fixtures" / "guidellm" / "benchmarks.json"


def guidellm() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GUIDELLM.read_text())
    return data


def test_a_guidellm_benchmark_maps_onto_a_candidate_result() -> None:
    result = from_guidellm(guidellm(), candidate=G5, benchmark=1)

    # request_latency is in seconds in GuideLLM's report.
    assert result.latency_ms.avg == pytest.approx(7386)
    assert result.latency_ms.p50 == pytest.approx(7353)
    assert result.latency_ms.p99 == pytest.approx(8127)
    assert (result.invocations, result.errors) == (200, 2)
    assert result.imported_from == "guidellm 0.3.0 (benchmark 1, concurrent)"
    llm = result.llm
    assert llm is not None
    assert (llm.ttft_ms.avg, llm.itl_ms.p90, llm.output_tokens_per_s) == (183.547, 29.4, 270.615)
    assert (llm.input_tokens, llm.output_tokens, llm.requests, llm.concurrency) == (108900, 49500, 198, 8)


def test_a_sweep_needs_the_benchmark_chosen() -> None:
    with pytest.raises(InputError) as caught:
        from_guidellm(guidellm(), candidate=G5)
    assert caught.value.field == "--benchmark" and "holds 2 benchmarks" in caught.value.message
    with pytest.raises(InputError, match="must be 0 to 1, got 2"):
        from_guidellm(guidellm(), candidate=G5, benchmark=2)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            lambda d: d["benchmarks"][1]["metrics"].pop("request_latency"),
            "benchmarks[1].metrics.request_latency.successful",
        ),
        (
            lambda d: d["benchmarks"][1]["metrics"].pop("inter_token_latency_ms"),
            "benchmarks[1].metrics.inter_token_latency_ms.successful",
        ),
        (
            lambda d: d["benchmarks"][1]["metrics"]["request_latency"]["successful"].pop("mean"),
            "benchmarks[1].metrics.request_latency.successful.mean",
        ),
        (lambda d: d["benchmarks"][1].pop("metrics"), "benchmarks[1].metrics"),
    ],
)
def test_a_missing_guidellm_metric_names_its_field(change: Any, field: str) -> None:
    data = guidellm()
    change(data)
    with pytest.raises(InputError) as caught:
        from_guidellm(data, candidate=G5, benchmark=1)
    assert caught.value.field == field


def test_the_wrong_tool_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "import", "--from", "guidellm", str(AIPERF), "--instance-type", "ml.g5.2xlarge"
    )
    assert code == 2 and "benchmarks: is AIPerf's or GenAI-Perf's export, not a GuideLLM report" in err
    code, _, err = run(
        capsys, "import", "--from", "aiperf", str(GUIDELLM), "--instance-type", "ml.g5.2xlarge"
    )
    assert code == 2 and "benchmarks: looks like a GuideLLM report" in err and "--from guidellm" in err


def test_guidellm_benchmarks_import_as_candidates_recommend_ranks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    results = tmp_path / "results.json"
    base = ("import", "--from", "guidellm", str(GUIDELLM), "--instance-type")
    assert run(capsys, *base, "ml.g5.2xlarge", "--benchmark", "0", "--out", str(results))[0] == 0
    assert run(capsys, *base, "ml.g6.2xlarge", "--benchmark", "1", "--append", str(results))[0] == 0

    written = ResultsFile.model_validate(json.loads(results.read_text()))
    assert written.model == "meta-llama/Llama-3.1-8B-Instruct"
    assert [r.imported_from for r in written.results] == [
        "guidellm 0.3.0 (benchmark 0, synchronous)",
        "guidellm 0.3.0 (benchmark 1, concurrent)",
    ]
    code, out, err = run(capsys, "recommend", str(results), "--slo", "p90:7000", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["recommended"]["label"] == "ml.g5.2xlarge"
