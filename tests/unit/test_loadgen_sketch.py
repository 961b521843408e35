"""The latency sketch: percentiles within its stated accuracy, exact merging, a stable text form."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infercost.domain.errors import InputError
from infercost.domain.results import LatencyStats
from infercost.domain.sketch import RELATIVE_ACCURACY, LatencySketch
from infercost.measurement.results import LevelResult, LoadTestResult, RawLevel, merge_level_results

latencies = st.lists(
    st.floats(min_value=0.01, max_value=60_000, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=400,
)
QUANTILES = (0.0, 0.25, 0.5, 0.9, 0.95, 0.99)


def assert_same_stats(left: LatencyStats | None, right: LatencyStats | None) -> None:
    """Equal up to float summation order (the average is a sum divided by a count)."""
    assert left is not None and right is not None
    assert left.model_dump() == pytest.approx(right.model_dump(), rel=1e-9)


def exact_lower(values: list[float], quantile: float) -> float:
    """The value at rank floor(q·(n−1)) of the sorted data: the rank DDSketch estimates."""
    ordered = sorted(values)
    return ordered[math.floor(quantile * (len(ordered) - 1))]


@settings(max_examples=60, deadline=None)
@given(latencies)
def test_quantiles_are_within_the_stated_relative_accuracy(values: list[float]) -> None:
    sketch = LatencySketch(values)
    for quantile in QUANTILES:
        estimate = sketch.quantile_ms(quantile)
        assert estimate is not None
        true = exact_lower(values, quantile)
        assert abs(estimate - true) <= RELATIVE_ACCURACY * true * (1 + 1e-9)
    assert sketch.count == len(values)
    assert sketch.max_ms == max(values)
    assert sketch.avg_ms == pytest.approx(sum(values) / len(values))


@settings(max_examples=60, deadline=None)
@given(st.lists(latencies, min_size=1, max_size=6))
def test_merged_sketches_equal_one_sketch_fed_every_value(parts: list[list[float]]) -> None:
    merged = LatencySketch()
    for part in parts:
        merged.merge(LatencySketch.from_text(LatencySketch(part).to_text()))
    single = LatencySketch(value for part in parts for value in part)
    for quantile in QUANTILES:
        assert merged.quantile_ms(quantile) == pytest.approx(single.quantile_ms(quantile), rel=1e-12)
    assert merged.count == single.count
    assert merged.max_ms == single.max_ms
    assert_same_stats(merged.stats(), single.stats())


@settings(max_examples=40, deadline=None)
@given(st.lists(latencies, min_size=2, max_size=5))
def test_merge_level_results_adds_counts_and_merges_latency(parts: list[list[float]]) -> None:
    levels = []
    for index, part in enumerate(parts):
        raw = RawLevel(2, duration_s=1.0 + index)
        raw.latencies_ms.extend(part)
        raw.error("http_5xx", f"HTTP 500 from worker {index}")
        levels.append(raw.to_level())
    merged = merge_level_results(levels)
    everything = [value for part in parts for value in part]
    assert merged.concurrency == 2 * len(parts)
    assert merged.ok == len(everything)
    assert merged.errors_by_kind == {"http_5xx": len(parts)}
    assert merged.requests == len(everything) + len(parts)
    assert merged.duration_s == 1.0 + len(parts) - 1
    assert merged.rps == pytest.approx(sum(level.rps for level in levels))
    assert_same_stats(merged.latency_ms, LatencySketch(everything).stats())
    assert merged.error_examples["http_5xx"] == "HTTP 500 from worker 0"


def test_stats_never_put_a_percentile_above_the_exact_max() -> None:
    stats = LatencySketch([10.0] * 99 + [10.02]).stats()
    assert stats is not None
    assert stats.max == 10.02
    assert stats.p50 is not None and stats.p99 is not None
    assert stats.p50 <= stats.p99 <= stats.max
    assert stats.out_of_order() is None


def test_empty_sketch_has_no_stats_and_round_trips() -> None:
    empty = LatencySketch.from_text(LatencySketch().to_text())
    assert empty.count == 0
    assert empty.stats() is None
    assert empty.quantile_ms(0.5) is None
    assert empty.max_ms == 0.0


def test_sketch_text_is_small_for_a_wide_range() -> None:
    values = [0.1 * 1.001**i for i in range(10_000)]  # 0.1 ms .. about 2 s
    assert len(LatencySketch(values).to_text()) < 4_000


@pytest.mark.parametrize("text", ["", "dds1:", "dds1:!!!", "other:abc", "dds1:eJyrVgIAAO4AmA=="])
def test_a_damaged_sketch_is_a_one_line_input_error(text: str) -> None:
    with pytest.raises(InputError, match="not a latency sketch"):
        LatencySketch.from_text(text)


def test_level_without_successes_has_no_latency_but_keeps_its_errors() -> None:
    raw = RawLevel(4, duration_s=0.5)
    raw.error("timeout", "no response within 1 s")
    raw.error("timeout", "no response within 1 s")
    level: LevelResult = raw.to_level()
    assert level.latency_ms is None
    assert level.ok == 0
    assert level.error_rate == 1.0
    assert level.describe_errors() == "2 errors of 2 (timeout 2)"
    assert level.latency_at("p90") is None


def test_a_whole_sweep_fits_easily_in_step_functions_state() -> None:
    # Seven levels of latencies spread over 0.1 ms .. 60 s, each with errors of every kind.
    levels = []
    for concurrency in (1, 2, 4, 8, 16, 32, 64):
        raw = RawLevel(concurrency, duration_s=10.0)
        raw.latencies_ms.extend(0.1 * 1.0005**i for i in range(27_000))
        for kind in ("http_4xx", "http_5xx", "throttled", "timeout", "connection", "other"):
            raw.error(kind, "x" * 500)
        levels.append(raw.to_level())
    result = LoadTestResult(started_at=0, ended_at=1, measured=levels[0], sweep=levels[1:])
    assert len(result.model_dump_json()) < 40_000  # the state limit is 256 KB
    assert LoadTestResult.model_validate_json(result.model_dump_json()) == result
