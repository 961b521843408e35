"""Hardware kinds of every SageMaker hosting instance type, DLC image kinds, and their fit."""

from __future__ import annotations

import botocore.session
import pytest

from infercost.domain.hardware import (
    EXAMPLE_IMAGES,
    Hardware,
    dlc_image_kind,
    hardware_of,
    image_fit,
    instance_family,
    judge_image,
    parse_image,
)

HOSTING_TYPES = (
    botocore.session.get_session()
    .get_service_model("sagemaker")
    .shape_for("ProductionVariantInstanceType")
    .enum
)

# What the families are, from AWS's instance type pages (not from the rule under test).
GRAVITON = {"c6g", "c6gd", "c6gn", "c7g", "c8g", "m6g", "m6gd", "m8g", "r6g", "r6gd", "r7gd", "r8g"}
NVIDIA = {"g4dn", "g5", "g6", "g6e", "g7", "g7e", "p2", "p3", "p4d", "p4de", "p5", "p5e", "p5en"}
NVIDIA |= {"p6-b200", "p6-b300", "p6e-gb200"}
NEURON = {"inf1", "inf2", "trn1", "trn1n", "trn2"}


def test_every_hosting_instance_type_botocore_knows_is_classified() -> None:
    assert len(HOSTING_TYPES) > 200
    unexpected = []
    for instance_type in HOSTING_TYPES:
        family = instance_family(instance_type)
        expected = (
            "arm64"
            if family in GRAVITON
            else "gpu"
            if family in NVIDIA
            else "neuron"
            if family in NEURON
            else "cpu"
        )
        if hardware_of(instance_type).kind != expected:
            unexpected.append((instance_type, hardware_of(instance_type).kind, expected))
    assert unexpected == []
    # Every family this test names exists in the enum (a renamed family would go unnoticed).
    families = {instance_family(t) for t in HOSTING_TYPES}
    assert families >= GRAVITON | NVIDIA | NEURON


def test_architectures() -> None:
    assert hardware_of("ml.c7g.large") == Hardware("arm64", "arm64")
    assert hardware_of("ml.p6e-gb200.36xlarge") == Hardware("gpu", "arm64")  # Grace CPUs
    assert hardware_of("ml.g5.xlarge") == Hardware("gpu", "x86_64")
    assert hardware_of(None) == Hardware("cpu", "x86_64")  # serverless


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        (EXAMPLE_IMAGES["cpu"], "cpu"),
        (EXAMPLE_IMAGES["arm64"], "arm64"),
        (EXAMPLE_IMAGES["gpu"], "gpu"),
        (EXAMPLE_IMAGES["neuron"], "neuron"),
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.29.0-lmi11.0.0-cu124", "gpu"),
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.29.0-neuronx-sdk2.19.1", "neuron"),
        (
            "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:2.1.1-tgi1.4.0-gpu-py310-cu121-ubuntu20.04",
            "gpu",
        ),
        ("763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.3-cpu-py311", "cpu"),
        # Not a DLC registry of that region, or a DLC whose name does not say: not judged offline.
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311", None),
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/some-tool:latest", None),
        ("763104351884.dkr.ecr.ap-east-2.amazonaws.com/pytorch-inference:2.3-cpu-py311", None),
    ],
)
def test_dlc_images_are_known_by_their_names(image: str, kind: str | None) -> None:
    assert dlc_image_kind(image) == kind


def test_image_references_are_parsed_with_tags_or_digests() -> None:
    digest = "a" * 64
    by_digest = parse_image(f"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/team/model@sha256:{digest}")
    assert by_digest is not None and by_digest.region == "cn-north-1" and by_digest.tag is None
    assert by_digest.repository == "team/model"
    assert by_digest.image_id() == {"imageDigest": f"sha256:{digest}"}
    by_tag = parse_image("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/model:v1")
    assert by_tag is not None and by_tag.image_id() == {"imageTag": "v1"} and by_tag.digest is None
    assert parse_image("docker.io/library/nginx:latest") is None


@pytest.mark.parametrize(
    ("image_kind", "instance_type", "fit"),
    [
        ("cpu", "ml.c6i.large", "ok"),
        ("cpu", None, "ok"),
        ("cpu", "ml.c7g.large", "error"),
        ("cpu", "ml.g5.xlarge", "warning"),
        ("cpu", "ml.inf2.xlarge", "warning"),
        ("cpu", "ml.p6e-gb200.36xlarge", "error"),
        ("arm64", "ml.c7g.large", "ok"),
        ("arm64", "ml.c6i.large", "error"),
        ("arm64", "ml.g5.xlarge", "error"),
        ("gpu", "ml.g5.xlarge", "ok"),
        ("gpu", "ml.c6i.large", "error"),
        ("gpu", None, "error"),
        ("gpu", "ml.inf2.xlarge", "error"),
        ("neuron", "ml.inf2.xlarge", "ok"),
        ("neuron", "ml.trn1.2xlarge", "ok"),
        ("neuron", "ml.g5.xlarge", "error"),
        ("neuron", "ml.c6i.large", "error"),
    ],
)
def test_what_runs_where(image_kind: str, instance_type: str | None, fit: str) -> None:
    assert image_fit(image_kind, hardware_of(instance_type)) == fit  # type: ignore[arg-type]


def test_an_image_that_cannot_be_judged_offline_gets_no_verdict() -> None:
    own = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1"
    assert judge_image(own, "ml.c7g.large", "candidates[0]", "model.image_uri") is None
