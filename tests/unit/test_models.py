"""Specs and results files: valid shapes pass, every bad field is named with what would be valid."""

from __future__ import annotations

import json

import pytest

from infercost.domain.errors import InputError
from infercost.domain.models import (
    Candidate,
    EvaluationSpec,
    Slo,
    load_json_file,
    parse_json_text,
    parse_model,
)
from infercost.domain.results import LatencyStats, ResultsFile

GOOD_RESULTS = {
    "schema": "infercost.results/v1",
    "model": "densenet121",
    "region": "us-east-1",
    "slo": {"percentile": "p90", "max_latency_ms": 80},
    "results": [
        {
            "candidate": {
                "instance_type": "ml.c5.large",
                "accelerator_type": "ml.eia2.medium",
                "instance_count": 1,
            },
            "price_per_hour_usd": 0.287,
            "latency_ms": {"avg": 47.85, "p50": 47.1, "p90": 51.74, "p95": 53.0, "p99": 58.2, "max": 70.3},
            "max_rps_at_slo": 20.4,
            "invocations": 1000,
            "errors": 0,
            "source": "cloudwatch",
        }
    ],
}


def with_change(path: str, value) -> dict:
    data = json.loads(json.dumps(GOOD_RESULTS))
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return data


def field_of(model, data) -> str:
    with pytest.raises(InputError) as caught:
        parse_model(model, data)
    return caught.value.one_line()


def test_the_documented_results_file_is_valid_and_round_trips():
    parsed = parse_model(ResultsFile, GOOD_RESULTS)
    assert parsed.to_json() == GOOD_RESULTS | {"failures": []}


def test_a_results_file_keeps_the_price_basis_and_one_without_it_still_reads():
    # Files written before the basis existed have none; a run's files carry it.
    assert parse_model(ResultsFile, GOOD_RESULTS).results[0].price_basis is None
    marked = parse_model(ResultsFile, with_change("results.0.price_basis", "derived"))
    assert marked.results[0].price_basis == "derived"
    assert marked.to_json()["results"][0]["price_basis"] == "derived"
    message = field_of(ResultsFile, with_change("results.0.price_basis", "guessed"))
    assert message.startswith("results[0].price_basis") and "derived" in message


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("results.0.latency_ms.avg", ..., "results[0].latency_ms.avg: Field required"),
        (
            "results.0.latency_ms.p90",
            -1,
            "results[0].latency_ms.p90: Input should be greater than or equal to 0",
        ),
        ("slo.percentile", "p42", "slo.percentile: must be one of p50, p90, p95, p99, max, got 'p42'"),
        ("slo.max_latency_ms", 0, "slo.max_latency_ms: Input should be greater than 0"),
        ("schema", "infercost.results/v2", "schema: must be 'infercost.results/v1'"),
        ("results", [], "results: no results"),
        (
            "results.0.candidate.instance_type",
            "c5.large",
            "results[0].candidate.instance_type: String should match",
        ),
        ("results.0.errors", -2, "results[0].errors: Input should be greater than or equal to 0"),
    ],
)
def test_bad_results_name_the_field(path, value, expected):
    assert field_of(ResultsFile, with_change(path, value)).startswith(expected)


def test_unknown_keys_in_results_are_ignored_for_files_from_other_tools():
    data = with_change("results.0.notes", "from the blog table")
    assert parse_model(ResultsFile, data).results[0].candidate.instance_type == "ml.c5.large"


def test_candidate_needs_exactly_one_kind():
    assert "exactly one of instance_type" in field_of(Candidate, {})
    assert "exactly one of instance_type" in field_of(
        Candidate, {"instance_type": "ml.c5.large", "serverless": {"memory_mb": 2048}}
    )
    assert "serverless.memory_mb: must be one of 1024" in field_of(
        Candidate, {"serverless": {"memory_mb": 3000}}
    )
    assert "instance_count: Input should be greater than or equal to 1" in field_of(
        Candidate, {"instance_type": "ml.c5.large", "instance_count": 0}
    )
    assert "accelerator_type cannot be attached" in field_of(
        Candidate, {"serverless": {"memory_mb": 2048}, "accelerator_type": "ml.eia2.medium"}
    )


def test_candidate_labels_and_slugs():
    assert Candidate(instance_type="ml.g5.xlarge", instance_count=2).label == "2 × ml.g5.xlarge"
    assert (
        Candidate(instance_type="ml.c5.large", accelerator_type="ml.eia2.medium").slug
        == "c5-large-eia2-medium"
    )
    serverless = Candidate.model_validate({"serverless": {"memory_mb": 4096}})
    assert serverless.label == "serverless 4096 MB"
    assert serverless.slug == "sls-4096"
    assert serverless.model_dump() == {"serverless": {"memory_mb": 4096, "max_concurrency": 10}}


def test_spec_typos_are_refused_and_named():
    spec = {
        "model": {"name": "m", "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1"},
        "payload": {"body": "{}"},
        "candidats": [],
    }
    assert field_of(EvaluationSpec, spec).startswith("candidats: Extra inputs are not permitted")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"candidates": []}, "candidates: give at least one candidate"),
        ({"load": {"requests": 0}}, "load.requests: Input should be greater than or equal to 1"),
        ({"load": {"concurrency": []}}, "load.concurrency: give at least one concurrency level"),
        ({"slo": {"percentile": "p42", "max_latency_ms": 80}}, "slo.percentile: must be one of"),
        (
            {"slo": {"percentile": "p90", "max_latency_ms": -5}},
            "slo.max_latency_ms: Input should be greater than 0",
        ),
        ({"payload": {"content_type": "text/csv"}}, "payload: give exactly one of s3_key"),
        (
            {"candidates": [{"instance_type": "ml.c5.large"}, {"instance_type": "ml.c5.large"}]},
            "candidates: candidate 'ml.c5.large' is listed twice",
        ),
        (
            {
                "model": {
                    "name": "bad name!",
                    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
                }
            },
            "model.name: String should match pattern",
        ),
    ],
)
def test_bad_specs_name_the_field(change, expected):
    spec = {
        "model": {"name": "m", "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1"},
        "payload": {"body": "{}"},
    } | change
    assert field_of(EvaluationSpec, spec).startswith(expected)


def test_spec_defaults_fill_what_it_omits():
    spec = parse_model(
        EvaluationSpec,
        {
            "model": {"name": "m", "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1"},
            "payload": {"body": "{}"},
        },
    )
    assert spec.slo == Slo(percentile="p90", max_latency_ms=100)
    assert spec.load.warmup == 100 and spec.load.requests == 1000
    assert any(candidate.is_serverless for candidate in spec.candidates)
    assert not any(candidate.uses_elastic_inference for candidate in spec.candidates)


def test_concurrency_levels_are_sorted_and_unique():
    spec = parse_model(
        EvaluationSpec,
        {
            "model": {"name": "m", "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1"},
            "payload": {"body": "{}"},
            "load": {"concurrency": [8, 1, 8, 2]},
        },
    )
    assert spec.load.concurrency == [1, 2, 8]
    assert spec.load.sweeps


def test_slo_parse_from_the_command_line():
    assert Slo.parse("P95:120") == Slo(percentile="p95", max_latency_ms=120)
    assert Slo.parse("max:250ms").max_latency_ms == 250
    for bad, expected in [
        ("p90", "--slo: expected PERCENTILE:MILLISECONDS"),
        ("p90:fast", "--slo: the latency bound 'fast' is not a number"),
        ("p42:80", "--slo.percentile: must be one of"),
        ("p90:0", "--slo.max_latency_ms: Input should be greater than 0"),
    ]:
        with pytest.raises(InputError) as caught:
            Slo.parse(bad)
        assert caught.value.one_line().startswith(expected)


def test_latency_out_of_order_is_described():
    assert LatencyStats(avg=10, p50=12, p90=11).out_of_order() == "p50 (12 ms) is above p90 (11 ms)"
    assert LatencyStats(avg=10, p50=9, p90=11, max=30).out_of_order() is None


def test_json_errors_give_line_and_column(tmp_path):
    broken = tmp_path / "results.json"
    broken.write_text('{"schema": "infercost.results/v1",\n "model": }')
    with pytest.raises(InputError, match=r"is not valid JSON: Expecting value at line 2 column 11"):
        load_json_file(broken)
    with pytest.raises(InputError, match="no such file"):
        load_json_file(tmp_path / "missing.json")
    with pytest.raises(InputError, match="is a directory"):
        load_json_file(tmp_path)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        load_json_file(binary)
    assert parse_json_text("[1]", source="x") == [1]


def test_several_problems_are_counted_in_one_line():
    data = with_change("results.0.latency_ms", {"p50": -1})
    line = field_of(ResultsFile, data)
    assert line.startswith("results[0].latency_ms.avg: Field required (and 1 more problem)")
    assert "\n" not in line
