"""GuideLLM's benchmark report (`benchmarks.json`) as infercost results: one benchmark, one candidate.

A report holds `benchmarks`, one per load level GuideLLM ran (a sweep has several); each has
`metrics.<name>` as a StatusDistributionSummary, `{"successful": {...}, "errored": {...}, ...}`,
whose DistributionSummary carries `mean`, `median`, `min`, `max` and `percentiles` (`p50`, `p90`,
`p95`, `p99`, ...). `request_latency` is in seconds, `time_to_first_token_ms` and
`inter_token_latency_ms` in milliseconds, `output_tokens_per_second` a rate over the benchmark's
time; `metadata.guidellm_version` names the version where the report has it.
docs/architecture.md, "Importing other tools' results".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, parse_model
from infercost.domain.results import CandidateResult, LatencyStats, LlmStats


def _benchmark(data: Any, index: int | None) -> tuple[int, Mapping[str, Any]]:
    if not isinstance(data, Mapping) or not isinstance(data.get("benchmarks"), list):
        found = (
            "AIPerf's or GenAI-Perf's export"
            if isinstance(data, Mapping) and "request_latency" in data
            else None
        )
        raise InputError(
            f"is {found}, not a GuideLLM report" if found else "has no list of benchmarks",
            field="benchmarks",
            hint="use --from aiperf" if found else "give GuideLLM's benchmarks.json",
        )
    benchmarks = data["benchmarks"]
    if not benchmarks:
        raise InputError("is empty: the report holds no benchmark", field="benchmarks")
    if index is None:
        if len(benchmarks) > 1:
            raise InputError(
                f"holds {len(benchmarks)} benchmarks (one per load level)",
                field="--benchmark",
                hint=f"choose one, 0 to {len(benchmarks) - 1}, and import each as its own candidate",
            )
        index = 0
    if not 0 <= index < len(benchmarks):
        raise InputError(f"must be 0 to {len(benchmarks) - 1}, got {index}", field="--benchmark")
    benchmark = benchmarks[index]
    if not isinstance(benchmark, Mapping) or not isinstance(benchmark.get("metrics"), Mapping):
        raise InputError("has no metrics", field=f"benchmarks[{index}].metrics")
    return index, benchmark


def _successful(
    metrics: Mapping[str, Any], name: str, where: str, *, required: bool = True
) -> Mapping[str, Any] | None:
    summary = metrics.get(name)
    successful = summary.get("successful") if isinstance(summary, Mapping) else None
    if not isinstance(successful, Mapping):
        if required:
            raise InputError(
                "missing from the report",
                field=f"{where}.{name}.successful",
                hint="GuideLLM writes it for a text-generation benchmark",
            )
        return None
    return successful


def _value(summary: Mapping[str, Any], key: str, where: str) -> float | None:
    value = summary.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InputError(f"must be a number ≥ 0, got {value!r}", field=f"{where}.{key}")
    return float(value)


def _latency(summary: Mapping[str, Any], where: str, *, to_ms: float) -> LatencyStats:
    mean = _value(summary, "mean", where)
    if mean is None:
        raise InputError("missing", field=f"{where}.mean")
    percentiles = summary.get("percentiles") if isinstance(summary.get("percentiles"), Mapping) else {}
    assert isinstance(percentiles, Mapping)
    values: dict[str, float | None] = {
        "avg": mean,
        "p50": _value(percentiles, "p50", f"{where}.percentiles") or _value(summary, "median", where),
        "p90": _value(percentiles, "p90", f"{where}.percentiles"),
        "p95": _value(percentiles, "p95", f"{where}.percentiles"),
        "p99": _value(percentiles, "p99", f"{where}.percentiles"),
        "max": _value(summary, "max", where),
    }
    return LatencyStats(**{key: value * to_ms for key, value in values.items() if value is not None})


def _path(node: Any, *keys: str) -> Any:
    for key in keys:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def model_name(data: Any, index: int | None) -> str | None:
    """The model a benchmark ran against, where the report says (config or args)."""
    benchmarks = data.get("benchmarks") if isinstance(data, Mapping) else None
    if not isinstance(benchmarks, list) or not benchmarks:
        return None
    benchmark = benchmarks[index or 0] if (index or 0) < len(benchmarks) else None
    for name in (_path(benchmark, "config", "backend", "model"), _path(data, "args", "model")):
        if isinstance(name, str) and name:
            return name
    return None


def from_guidellm(data: Any, *, candidate: Candidate, benchmark: int | None = None) -> CandidateResult:
    """One benchmark of a GuideLLM report as a measured candidate (streaming token stats included)."""
    index, bench = _benchmark(data, benchmark)
    where = f"benchmarks[{index}].metrics"
    metrics = bench["metrics"]
    latency = _latency(
        _successful(metrics, "request_latency", where) or {},
        f"{where}.request_latency.successful",
        to_ms=1000,
    )
    totals = metrics.get("request_totals") if isinstance(metrics.get("request_totals"), Mapping) else {}
    assert isinstance(totals, Mapping)
    succeeded = _value(totals, "successful", f"{where}.request_totals")
    failed = (_value(totals, "errored", f"{where}.request_totals") or 0) + (
        _value(totals, "incomplete", f"{where}.request_totals") or 0
    )
    version = _path(data, "metadata", "guidellm_version")
    strategy = _path(bench, "config", "strategy", "type_") or _path(bench, "args", "strategy", "type_")
    imported = f"guidellm {version}" if version else "guidellm (no version in the report)"
    imported += f" (benchmark {index}" + (f", {strategy}" if strategy else "") + ")"
    result: dict[str, Any] = {
        "candidate": candidate,
        "latency_ms": latency,
        "invocations": round(succeeded + failed) if succeeded is not None else None,
        "errors": round(failed),
        "source": "client",
        "imported_from": imported,
        "llm": _llm(metrics, where, succeeded, bench),
    }
    return parse_model(CandidateResult, result)


def _llm(
    metrics: Mapping[str, Any], where: str, succeeded: float | None, bench: Mapping[str, Any]
) -> LlmStats | None:
    ttft = _successful(metrics, "time_to_first_token_ms", where, required=False)
    if ttft is None:
        return None
    itl = _successful(metrics, "inter_token_latency_ms", where)
    rate = _successful(metrics, "output_tokens_per_second", where)
    assert itl is not None and rate is not None
    output_rate = _value(rate, "mean", f"{where}.output_tokens_per_second.successful")
    if output_rate is None:
        raise InputError("missing", field=f"{where}.output_tokens_per_second.successful.mean")

    def tokens(name: str) -> int:
        summary = _successful(metrics, name, where, required=False)
        if summary is None:
            return 0
        total = _value(summary, "total_sum", f"{where}.{name}.successful")
        mean = _value(summary, "mean", f"{where}.{name}.successful")
        if total is None and mean is not None and succeeded is not None:
            total = mean * succeeded
        return round(total or 0)

    streams = _path(bench, "config", "strategy", "streams") or _path(bench, "args", "strategy", "streams")
    return LlmStats(
        ttft_ms=_latency(ttft, f"{where}.time_to_first_token_ms.successful", to_ms=1),
        itl_ms=_latency(itl, f"{where}.inter_token_latency_ms.successful", to_ms=1),
        output_tokens_per_s=output_rate,
        input_tokens=tokens("prompt_token_count"),
        output_tokens=tokens("output_token_count"),
        requests=round(succeeded or 0),
        concurrency=streams if isinstance(streams, int) and streams >= 1 else None,
    )
