"""The workflow's pure decisions: names, merging, timing, quota allocation, error reasons."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infercost.data.settings import RESOURCE_PREFIX_PATTERN
from infercost.domain.errors import InputError
from infercost.domain.models import Candidate, EvaluationSpec, LoadPlan, parse_model
from infercost.domain.workflow import (
    MAX_NAME_CHARS,
    MAX_RELEASE_DELAY_S,
    Artifact,
    ObjectCreatedEvent,
    RunRef,
    TaskError,
    Timing,
    allocate_quota,
    candidate_from_variant,
    container_definition,
    container_definitions,
    deep_merge,
    load_workers,
    merge_spec,
    merge_timing,
    metrics_wait_seconds,
    model_name_from_key,
    parse_spec,
    plan_candidates,
    production_variants,
    release_wait_seconds,
    resource_name,
    run_identity,
    spec_key_for,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")

instance_types = st.sampled_from(
    ["ml.c5.large", "ml.c7g.24xlarge", "ml.g5.48xlarge", "ml.inf2.xlarge", "ml.p4d.24xlarge"]
)
candidates = st.one_of(
    st.builds(
        lambda t, a, n: Candidate(instance_type=t, accelerator_type=a, instance_count=n),
        instance_types,
        st.one_of(st.none(), st.sampled_from(["ml.eia1.medium", "ml.eia2.xlarge"])),
        st.integers(min_value=1, max_value=100),
    ),
    st.builds(
        lambda m, c: Candidate.model_validate({"serverless": {"memory_mb": m, "max_concurrency": c}}),
        st.sampled_from([1024, 2048, 3072, 4096, 5120, 6144]),
        st.integers(min_value=1, max_value=200),
    ),
)
# At most 20 characters, the longest prefix the settings accept.
prefixes = st.from_regex(r"[a-z][a-z0-9]{0,9}(-[a-z0-9]{1,4}){0,2}", fullmatch=True)
run_ids = st.text(alphabet="0123456789abcdef", min_size=10, max_size=10)


@given(prefixes, run_ids, st.integers(min_value=0, max_value=99), candidates)
def test_resource_names_are_valid_sagemaker_names_of_at_most_63_chars(
    prefix: str, run_id: str, index: int, candidate: Candidate
) -> None:
    name = resource_name(prefix, run_id, index, candidate)

    assert len(name) <= MAX_NAME_CHARS
    assert SAGEMAKER_NAME.match(name)
    # Prefix, run and index survive whole (IAM is scoped to the prefix; the index is unique).
    assert name.startswith(f"{prefix}-{run_id}-{index:02d}")
    assert re.match(RESOURCE_PREFIX_PATTERN, prefix) and len(prefix) <= 20


@given(prefixes, run_ids, candidates)
def test_names_of_one_run_differ_by_candidate_index(prefix: str, run_id: str, candidate: Candidate) -> None:
    names = {resource_name(prefix, run_id, index, candidate) for index in range(20)}
    assert len(names) == 20


def test_the_slug_is_cut_first_when_a_name_would_be_too_long() -> None:
    candidate = Candidate(
        instance_type="ml.g5.48xlarge", accelerator_type="ml.eia2.xlarge", instance_count=12
    )
    name = resource_name("a-very-long-prefix-x", "0123456789", 7, candidate)
    assert name == "a-very-long-prefix-x-0123456789-07-g5-48xlarge-eia2-xlarge-x12"[:MAX_NAME_CHARS]
    assert not name.endswith("-")


@given(candidates)
def test_production_variant_round_trips_to_the_candidate(candidate: Candidate) -> None:
    (variant,) = production_variants("infercost-0123456789-00-x", candidate)
    assert variant["VariantName"] == "AllTraffic"
    assert candidate_from_variant(variant) == candidate


def test_run_id_is_stable_per_execution_and_differs_between_executions() -> None:
    first = run_identity("arn:aws:states:us-east-1:1:execution:sm:a")
    assert first == run_identity("arn:aws:states:us-east-1:1:execution:sm:a")
    assert first != run_identity("arn:aws:states:us-east-1:1:execution:sm:b")
    assert re.fullmatch(r"[0-9a-f]{10}", first)


@pytest.mark.parametrize(
    ("key", "model"),
    [
        ("models/densenet121/model.tar.gz", "densenet121"),
        ("models/resnet50.tar.gz", "resnet50"),
        ("models/team a/bert_base/model.tar.gz", "bert-base"),
        ("model.tar.gz", "model"),
        ("models/%%%/model.tar.gz", "model"),
    ],
)
def test_model_name_from_the_artifact_key(key: str, model: str) -> None:
    assert model_name_from_key(key) == model


def test_spec_sits_beside_the_artifact() -> None:
    assert spec_key_for("models/densenet121/model.tar.gz") == "models/densenet121/infercost.json"
    assert spec_key_for("model.tar.gz") == "infercost.json"


def test_stack_defaults_fill_only_what_the_spec_omits() -> None:
    defaults = {
        "slo": {"percentile": "p99", "max_latency_ms": 50},
        "load": {"warmup": 10, "requests": 100},
        "model": {"name": "never-from-defaults"},
        "workflow": {"max_concurrency": 2},
    }
    spec = {
        "model": {"name": "m", "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1"},
        "load": {"requests": 5},
    }

    merged = merge_spec(defaults, spec)

    assert merged["model"] == {
        "name": "m",
        "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
    }
    assert merged["slo"] == defaults["slo"]
    assert merged["load"] == {"warmup": 10, "requests": 5}
    assert "workflow" not in merged


def test_deep_merge_replaces_lists_and_merges_objects() -> None:
    assert deep_merge({"a": [1, 2], "b": {"c": 1, "d": 2}}, {"a": [3], "b": {"d": 4}}) == {
        "a": [3],
        "b": {"c": 1, "d": 4},
    }


def test_timing_input_overrides_stack_defaults_and_counts_polls() -> None:
    timing = merge_timing(
        {"endpoint_poll_seconds": 10, "max_concurrency": 2, "endpoint_deadline_seconds": 600},
        {"endpoint_poll_seconds": 0},
    )

    assert timing.endpoint_poll_seconds == 0 and timing.max_concurrency == 2
    assert timing.endpoint_max_polls == timing.endpoint_deadline_seconds == 600
    assert Timing(endpoint_poll_seconds=30, endpoint_deadline_seconds=1800).endpoint_max_polls == 60
    assert Timing(endpoint_poll_seconds=30, endpoint_deadline_seconds=0).endpoint_max_polls == 1


def test_timing_keeps_a_candidates_history_bounded() -> None:
    # ~11 events per DescribeEndpoint poll: 1000 polls is ~11,000 of the 25,000 events allowed.
    assert Timing(endpoint_poll_seconds=2, endpoint_deadline_seconds=2000).endpoint_max_polls == 1000
    with pytest.raises(ValueError, match="2001 DescribeEndpoint polls; at most 1000"):
        Timing(endpoint_poll_seconds=1, endpoint_deadline_seconds=2001)


@pytest.mark.parametrize(
    ("ended_at", "now", "aligned", "flush", "wait"),
    [
        # The last measured minute (12:00:xx) closes at 12:01:00; plus 30 s of flush: 12:01:30.
        (43_215.0, 43_216.0, True, 30, 74),
        # Never later than 90 s after the last request, whatever the flush.
        (43_201.0, 43_201.0, True, 60, 90),
        # A run that ended exactly on the minute: that minute is closed.
        (43_260.0, 43_270.0, True, 30, 20),
        # Per-second metrics (the local stack): only the flush.
        (100.0, 100.5, False, 0, 0),
        # Already past: no wait.
        (100.0, 500.0, True, 30, 0),
    ],
)
def test_the_endpoint_is_released_once_the_measured_minute_has_closed(
    ended_at: float, now: float, aligned: bool, flush: int, wait: int
) -> None:
    timing = Timing(align_to_minute=aligned, metrics_flush_seconds=flush)
    assert release_wait_seconds(ended_at, now, timing) == wait
    assert wait <= MAX_RELEASE_DELAY_S


def test_the_metrics_wait_counts_from_the_last_measured_request() -> None:
    timing = Timing(metrics_delay_seconds=60)
    assert metrics_wait_seconds(1000.0, 1075.0, timing) == 0
    assert metrics_wait_seconds(1000.0, 1030.0, timing) == 30


def test_timing_refuses_an_unknown_key_and_a_negative_wait() -> None:
    with pytest.raises(InputError, match=r"workflow\.endpoint_poll_secs: is not a timing key"):
        merge_timing({}, {"endpoint_poll_secs": 1})
    with pytest.raises(InputError, match=r"workflow\.metrics_delay_seconds"):
        merge_timing({}, {"metrics_delay_seconds": -1})


def test_parse_spec_names_the_field_and_the_file() -> None:
    with pytest.raises(InputError) as caught:
        parse_spec(
            {
                "model": {
                    "name": "m",
                    "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
                },
                "payload": {"body": "x"},
                "candidates": [{"instance_type": "c5"}],
            },
            source="s3://b/models/m/infercost.json",
        )
    assert caught.value.field == "candidates[0].instance_type"
    assert "s3://b/models/m/infercost.json" in caught.value.one_line()
    with pytest.raises(InputError, match="must hold a JSON object"):
        parse_spec([1, 2], source="s3://b/k")


def test_quota_is_shared_in_spec_order_and_unknown_quota_skips_nothing() -> None:
    c5 = Candidate(instance_type="ml.c5.large")
    c5_eia = Candidate(instance_type="ml.c5.large", accelerator_type="ml.eia2.medium")
    g5_twice = Candidate(instance_type="ml.g5.xlarge", instance_count=2)
    serverless = Candidate.model_validate({"serverless": {"memory_mb": 2048}})

    skipped = allocate_quota([c5, c5_eia, g5_twice, serverless], {"ml.c5.large": 1, "ml.g5.xlarge": None})

    assert list(skipped) == [1]
    assert "no endpoint quota left for ml.c5.large" in skipped[1]
    assert "needs 1 instance(s), 0 available" in skipped[1]
    assert "needs 2 instance(s), 1 available" in allocate_quota([g5_twice], {"ml.g5.xlarge": 1})[0]
    assert allocate_quota([c5], {}) == {}


def test_plans_carry_names_tags_variants_and_skips() -> None:
    spec = EvaluationSpec.model_validate(
        {
            "model": {
                "name": "m",
                "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
                "environment": {"A": "1"},
            },
            "payload": {"body": "{}"},
            "candidates": [{"instance_type": "ml.c5.large"}, {"serverless": {"memory_mb": 1024}}],
        }
    )
    run = RunRef.model_validate(
        {
            "model": "m",
            "started_at": "2024-05-01T12:00:00.000Z",
            "run_id": "abcdef0123",
            "execution_arn": "arn:x",
            "artifact": {"bucket": "b", "key": "models/m/model.tar.gz"},
        }
    )

    first, second = plan_candidates(spec, run, prefix="ic", prices={0: 0.1, 1: None}, skipped={1: "no"})

    assert first.name == "ic-abcdef0123-00-c5-large" and first.status == "PENDING"
    # The container travels once per candidate execution (Benchmark.containers), not in the plan.
    assert first.container_index == 0 and first.model_dump()["candidate"].get("container") is None
    assert container_definition(spec, run.artifact) == {
        "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/densenet:1",
        "ModelDataUrl": "s3://b/models/m/model.tar.gz",
        "Environment": {"A": "1"},
    }
    assert {"Key": "infercost:run-id", "Value": "abcdef0123"} in first.tags
    assert {"Key": "infercost:managed", "Value": "true"} in first.tags
    assert second.status == "SKIPPED" and second.skip_reason == "no"
    assert second.production_variants[0]["ServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 10}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            {"Error": "InjectedFault", "Cause": json.dumps({"errorMessage": "boom\nhere", "errorType": "X"})},
            "boom here",
        ),
        (
            {"Error": "SageMaker.SageMakerException", "Cause": "Rate exceeded (Service: SageMaker)"},
            "Rate exceeded (Service: SageMaker)",
        ),
        ({"Error": "States.Timeout", "Cause": ""}, "States.Timeout"),
        ({"Error": "States.TaskFailed"}, "States.TaskFailed"),
        ({"Error": "X", "Cause": "{not json"}, "{not json"),
    ],
)
def test_task_error_reason_is_one_line_a_person_reads(error: dict[str, str], reason: str) -> None:
    assert TaskError.model_validate(error).reason() == reason


def test_the_real_eventbridge_events_parse() -> None:
    versioned = ObjectCreatedEvent.model_validate(
        json.loads((FIXTURES / "eventbridge_s3_object_created.json").read_text())
    )
    unversioned = ObjectCreatedEvent.model_validate(
        json.loads((FIXTURES / "eventbridge_s3_object_created_unversioned.json").read_text())
    )

    assert versioned.key == "models/densenet121/model.tar.gz"
    assert versioned.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    assert unversioned.version_id is None and unversioned.detail.object.etag
    assert versioned.workflow is None


@pytest.mark.parametrize(
    ("concurrency", "workers", "expected"),
    [
        ([1], None, 1),
        ([1, 8, 64], None, 1),  # one Lambda holds 64 connections
        ([1, 65], None, 2),
        ([1, 256], None, 4),
        ([1, 4], 2, 2),  # the spec decides
        ([1, 2], 8, 2),  # never more workers than connections
    ],
)
def test_load_workers_follow_the_connections_or_the_spec(
    concurrency: list[int], workers: int | None, expected: int
) -> None:
    assert load_workers(LoadPlan(concurrency=concurrency, workers=workers)) == expected


def test_each_candidate_gets_its_container_and_equal_containers_are_shared() -> None:
    images = {
        kind: f"123456789012.dkr.ecr.us-east-1.amazonaws.com/m-{kind}:1" for kind in ("cpu", "gpu", "neuron")
    }
    spec = EvaluationSpec.model_validate(
        {
            "model": {"name": "m", "images": images, "environment": {"A": "1"}},
            "payload": {"body": "{}"},
            "candidates": [
                {"instance_type": "ml.c6i.large"},
                {"instance_type": "ml.g5.xlarge"},
                {"serverless": {"memory_mb": 2048}},
                {"instance_type": "ml.g6.xlarge"},
                {
                    "instance_type": "ml.inf2.xlarge",
                    "container": {
                        "model_data_key": "models/m/model-neuronx.tar.gz",
                        "environment": {"N": "2"},
                    },
                },
                {
                    "instance_type": "ml.m6i.large",
                    "container": {"image_uri": images["neuron"].replace("neuron", "own")},
                },
            ],
        }
    )
    artifact = Artifact(bucket="b", key="models/m/model.tar.gz")
    containers, indexes = container_definitions(spec, artifact)

    # cpu and serverless share one; both GPUs share one; the overrides are their own.
    assert indexes == [0, 1, 0, 1, 2, 3]
    assert [c["Image"] for c in containers] == [
        images["cpu"],
        images["gpu"],
        images["neuron"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/m-own:1",
    ]
    assert containers[2] == {
        "Image": images["neuron"],
        "ModelDataUrl": "s3://b/models/m/model-neuronx.tar.gz",
        "Environment": {"N": "2"},
    }
    assert containers[3]["ModelDataUrl"] == "s3://b/models/m/model.tar.gz"
    assert containers[3]["Environment"] == {"A": "1"}
    assert [spec.image_source(i)[1] for i in (0, 4, 5)] == [
        "model.images.cpu",
        "model.images.neuron",
        "candidates[5].container.image_uri",
    ]


def test_containers_environments_are_bounded_together() -> None:
    big = {f"V{i}": "x" * 1000 for i in range(20)}  # 20 KB
    spec = {
        "model": {
            "name": "m",
            "image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1",
            "environment": big,
        },
        "payload": {"body": "{}"},
        "candidates": [
            {"instance_type": "ml.c6i.large"},
            {
                "instance_type": "ml.m6i.large",
                "container": {"environment": {f"W{i}": "y" * 1000 for i in range(15)}},
            },
        ],
    }
    with pytest.raises(
        InputError, match=r"the containers' environments come to \d+ bytes together"
    ) as caught:
        parse_model(EvaluationSpec, spec)
    assert caught.value.field == "candidates"
