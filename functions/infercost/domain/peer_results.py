"""Other benchmark tools' exports as infercost results: AIPerf's (and GenAI-Perf's) aggregated JSON.

NVIDIA AIPerf writes `profile_export_aiperf.json`, one object whose metrics are
`{"unit": ..., "avg": ..., "p50": ..., "p90": ..., "p95": ..., "p99": ..., "min": ..., "max": ...}`
keyed by tag (`request_latency`, `time_to_first_token`, `inter_token_latency`,
`output_token_throughput`, `request_throughput`, `request_count`, `input_sequence_length`,
`output_sequence_length`, `total_isl`, `total_osl`, `benchmark_duration`, ...), beside
`aiperf_version`, `benchmark_id`, `input_config`, `error_summary`, `start_time`. Its model
(`JsonExportData`) mimics GenAI-Perf's `profile_export_genai_perf.json`, which therefore reads the
same way. docs/architecture.md, "Importing other tools' results".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, parse_model
from infercost.domain.results import RESULTS_SCHEMA, CandidateResult, LatencyStats, LlmStats

# Milliseconds per unit of a time metric.
TIME_UNITS_MS = {
    "ms": 1.0,
    "s": 1000.0,
    "sec": 1000.0,
    "seconds": 1000.0,
    "us": 0.001,
    "µs": 0.001,
    "usec": 0.001,
    "ns": 0.000001,
}
# Per-second rates, as the tools spell them.
PER_SECOND = ("/sec", "/s", "/second", " per second")
STATS = ("avg", "p50", "p90", "p95", "p99", "max")


def _metric(data: Mapping[str, Any], tag: str, *, required: bool) -> Mapping[str, Any] | None:
    value = data.get(tag)
    if value is None:
        if required:
            raise InputError(
                "missing from the export",
                field=tag,
                hint="AIPerf writes it in profile_export_aiperf.json; give that file, not the .jsonl or .csv",
            )
        return None
    if not isinstance(value, Mapping) or "unit" not in value:
        raise InputError(f'must be {{"unit": ..., "avg": ...}}, got {value!r:.60}', field=tag)
    return value


def _number(metric: Mapping[str, Any], tag: str, stat: str) -> float | None:
    value = metric.get(stat)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InputError(f"must be a number ≥ 0, got {value!r}", field=f"{tag}.{stat}")
    return float(value)


def latency_ms(data: Mapping[str, Any], tag: str, *, required: bool = True) -> LatencyStats | None:
    """A time metric's avg, p50, p90, p95, p99 and max in milliseconds, whatever unit it was in."""
    metric = _metric(data, tag, required=required)
    if metric is None:
        return None
    unit = str(metric["unit"]).strip()
    factor = TIME_UNITS_MS.get(unit) or TIME_UNITS_MS.get(unit.lower())
    if factor is None:
        raise InputError(
            f"unit {unit!r} is not a time unit infercost knows",
            field=f"{tag}.unit",
            hint=f"one of {', '.join(TIME_UNITS_MS)}",
        )
    values = {stat: _number(metric, tag, stat) for stat in STATS}
    if values["avg"] is None:
        raise InputError("missing", field=f"{tag}.avg", hint="the average is what the cost formula uses")
    return LatencyStats(**{stat: value * factor for stat, value in values.items() if value is not None})


def rate_per_s(data: Mapping[str, Any], tag: str, *, required: bool = True) -> float | None:
    """The average of a per-second metric (tokens/sec, requests/sec)."""
    metric = _metric(data, tag, required=required)
    if metric is None:
        return None
    unit = str(metric["unit"]).strip().lower()
    if not unit.endswith(PER_SECOND):
        raise InputError(f"unit {metric['unit']!r} is not per second", field=f"{tag}.unit")
    value = _number(metric, tag, "avg")
    if value is None:
        raise InputError("missing", field=f"{tag}.avg")
    return value


def count(data: Mapping[str, Any], tag: str) -> float | None:
    """The `avg` of a single-value metric (request_count, total_osl, ...), or None."""
    metric = _metric(data, tag, required=False)
    return None if metric is None else _number(metric, tag, "avg")


def _config(data: Mapping[str, Any], *path: str) -> Any:
    node: Any = data.get("input_config")
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node


def check_shape(data: Any) -> Mapping[str, Any]:
    """The export as an object; another tool's file (or another AIPerf file) is named as such."""
    if isinstance(data, list):
        raise InputError(
            "is a JSON list, not AIPerf's aggregated export (one object)",
            field="(top level)",
            hint="give profile_export_aiperf.json",
        )
    if not isinstance(data, Mapping):
        raise InputError("is not a JSON object", field="(top level)", hint="give profile_export_aiperf.json")
    if data.get("schema") == RESULTS_SCHEMA:
        raise InputError(
            "is already an infercost results file", field="schema", hint="run infercost recommend on it"
        )
    if "benchmarks" in data:
        raise InputError(
            "looks like a GuideLLM report, not AIPerf's export",
            field="benchmarks",
            hint="use --from guidellm",
        )
    if "metadata" in data and "metrics" in data:
        raise InputError(
            "looks like one per-request record of profile_export.jsonl",
            field="metrics",
            hint="give the aggregated profile_export_aiperf.json",
        )
    return data


def tool_of(data: Mapping[str, Any]) -> str:
    """'aiperf 0.5.0' and the run's id and start, or what can be said of an export without them."""
    version = data.get("aiperf_version")
    tool = f"aiperf {version}" if version else "aiperf or genai-perf (no version in the export)"
    details = [f"benchmark {data['benchmark_id']}"] if data.get("benchmark_id") else []
    if data.get("start_time"):
        details.append(f"started {data['start_time']}")
    return tool + (f" ({', '.join(details)})" if details else "")


def model_name(data: Mapping[str, Any]) -> str | None:
    """The model the export benchmarked, if it says: AIPerf's input_config.endpoint.model_names[0],
    GenAI-Perf's input_config.model (its -m arguments)."""
    for names in (_config(data, "endpoint", "model_names"), _config(data, "model")):
        if isinstance(names, str):
            names = [names]
        if isinstance(names, list) and names and isinstance(names[0], str) and names[0]:
            return names[0]
    return None


def from_aiperf(data: Any, *, candidate: Candidate) -> CandidateResult:
    """One measured candidate from AIPerf's `profile_export_aiperf.json` (or GenAI-Perf's).

    End-to-end latency from `request_latency`; for a streaming run (`time_to_first_token` present)
    the token measurements too, with `output_tokens_per_s` from `output_token_throughput`.
    """
    export = check_shape(data)
    latency = latency_ms(export, "request_latency")
    assert latency is not None
    completed = count(export, "request_count")
    failed = count(export, "error_request_count")
    if failed is None and isinstance(export.get("error_summary"), list):
        failed = float(
            sum(int(item.get("count") or 0) for item in export["error_summary"] if isinstance(item, Mapping))
        )
    errors = round(failed or 0)
    invocations = round(completed) + errors if completed is not None else None
    result: dict[str, Any] = {
        "candidate": candidate,
        "latency_ms": latency,
        "invocations": invocations,
        "errors": errors,
        "source": "client",
        "imported_from": tool_of(export),
        "llm": _llm(export, completed),
    }
    return parse_model(CandidateResult, result)


def _llm(export: Mapping[str, Any], completed: float | None) -> LlmStats | None:
    ttft = latency_ms(export, "time_to_first_token", required=False)
    if ttft is None:
        return None  # not a streaming run: latency alone is what it measured
    itl = latency_ms(export, "inter_token_latency")
    output_rate = rate_per_s(export, "output_token_throughput")
    assert itl is not None and output_rate is not None
    input_total = count(export, "total_isl")
    output_total = count(export, "total_osl")
    if completed is not None:
        if input_total is None and (isl := count(export, "input_sequence_length")) is not None:
            input_total = isl * completed
        if output_total is None and (osl := count(export, "output_sequence_length")) is not None:
            output_total = osl * completed
    duration_metric = _metric(export, "benchmark_duration", required=False)
    duration_s = None
    if duration_metric is not None:
        duration_ms = latency_ms(export, "benchmark_duration")
        duration_s = duration_ms.avg / 1000 if duration_ms is not None else None
    # AIPerf nests its configuration; GenAI-Perf's is the command's arguments, flat.
    concurrency = _config(export, "loadgen", "concurrency") or _config(export, "concurrency")
    tokenizer = _config(export, "tokenizer", "name") or _config(export, "tokenizer")
    goodput = rate_per_s(export, "goodput", required=False) if export.get("goodput") is not None else None
    return LlmStats(
        ttft_ms=ttft,
        itl_ms=itl,
        output_tokens_per_s=output_rate,
        input_tokens_per_s=input_total / duration_s if input_total is not None and duration_s else None,
        input_tokens=round(input_total or 0),
        output_tokens=round(output_total or 0),
        requests=round(completed or 0),
        concurrency=concurrency if isinstance(concurrency, int) and concurrency >= 1 else None,
        goodput_rps=goodput,
        tokenizer=tokenizer if isinstance(tokenizer, str) and tokenizer else None,
    )
