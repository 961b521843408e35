"""What hardware each candidate runs on, which container image it gets, and whether the two fit.

Every SageMaker hosting instance family has a *kind*: `arm64` (AWS Graviton CPUs), `gpu` (NVIDIA
GPUs), `neuron` (AWS Inferentia and Trainium), otherwise `cpu` (x86 CPUs); serverless endpoints
run on x86 CPUs. A candidate's image is, in this order: its own `container.image_uri`, the spec's
`model.images[kind]`, the spec's `model.image_uri`.

AWS Deep Learning Containers (DLC) name what they are built for — the registry account is one of
the region's DLC accounts (`dlc_registries.json`), and repository and tag carry words such as
`-cpu-`, `-gpu-`/`cu124`, `neuronx`, `graviton`. From those alone, offline, `judge_image`
refuses what cannot run (an x86 image on Graviton and the reverse, a Neuron image off Neuron
hardware, a GPU image on a CPU) and warns about what runs but wastes the hardware (a CPU image on
a GPU or Neuron instance). Other images cannot be judged offline: `infercost doctor` reads their
platforms from ECR.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, get_args

HardwareKind = Literal["cpu", "arm64", "gpu", "neuron"]
HARDWARE_KINDS: tuple[str, ...] = get_args(HardwareKind)
Architecture = Literal["x86_64", "arm64"]

# Families by kind. GPU families start with g or p (p6e-gb200 pairs NVIDIA GPUs with Arm Grace
# CPUs); Neuron families are Inferentia (inf) and Trainium (trn); a Graviton family has a 'g'
# right after its generation number (c7g, m6gd, r8g, c6gn). Everything else is an x86 CPU.
_GPU_FAMILY = re.compile(r"^(g\d|p\d)")
_NEURON_FAMILY = re.compile(r"^(inf|trn)\d")
_GRAVITON_FAMILY = re.compile(r"^[a-z]+\d+g[a-z]*$")
_ARM_HOST_GPU_FAMILIES = frozenset({"p6e-gb200"})

# An ECR image reference: registry host, repository, then a tag or a digest.
ECR_IMAGE_PATTERN = (
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[0-9a-f]{64}))$"
)
_ECR_IMAGE = re.compile(ECR_IMAGE_PATTERN)

# One PyTorch inference Deep Learning Container per kind (us-east-1), for the spec example, the
# demo and the README: the kind's words are in each name, so the offline check can judge them.
_DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
EXAMPLE_IMAGES: dict[str, str] = {
    "cpu": f"{_DLC}/pytorch-inference:2.3.0-cpu-py311-ubuntu20.04-sagemaker",
    "arm64": f"{_DLC}/pytorch-inference-graviton:2.3.0-cpu-py311-ubuntu20.04-sagemaker",
    "gpu": f"{_DLC}/pytorch-inference:2.3.0-gpu-py311-cu121-ubuntu20.04-sagemaker",
    "neuron": f"{_DLC}/pytorch-inference-neuronx:2.1.2-neuronx-py310-sdk2.20.0-ubuntu20.04",
}


@dataclass(frozen=True)
class Hardware:
    kind: HardwareKind
    architecture: Architecture


def instance_family(instance_type: str) -> str:
    """'ml.g6e.2xlarge' -> 'g6e'; 'ml.p6e-gb200.36xlarge' -> 'p6e-gb200'."""
    return instance_type.removeprefix("ml.").rsplit(".", 1)[0]


def hardware_of(instance_type: str | None) -> Hardware:
    """The kind and CPU architecture of an instance type; None (serverless) is an x86 CPU."""
    if instance_type is None:
        return Hardware("cpu", "x86_64")
    family = instance_family(instance_type)
    if _GPU_FAMILY.match(family):
        return Hardware("gpu", "arm64" if family in _ARM_HOST_GPU_FAMILIES else "x86_64")
    if _NEURON_FAMILY.match(family):
        return Hardware("neuron", "x86_64")
    if _GRAVITON_FAMILY.match(family):
        return Hardware("arm64", "arm64")
    return Hardware("cpu", "x86_64")


def hardware_kind(instance_type: str | None) -> HardwareKind:
    return hardware_of(instance_type).kind


@cache
def dlc_accounts() -> dict[str, frozenset[str]]:
    """Region -> the accounts of its Deep Learning Containers registries (`dlc_registries.json`)."""
    text = resources.files("infercost.domain").joinpath("dlc_registries.json").read_text(encoding="utf-8")
    regions: dict[str, list[str]] = json.loads(text)["regions"]
    return {region: frozenset(accounts) for region, accounts in regions.items()}


@dataclass(frozen=True)
class ImageReference:
    account: str
    region: str
    repository: str
    tag: str | None
    digest: str | None = None

    def image_id(self) -> dict[str, str]:
        """ECR's imageIds entry: {'imageTag': ...} or {'imageDigest': 'sha256:...'}."""
        return {"imageDigest": self.digest} if self.digest else {"imageTag": str(self.tag)}


def parse_image(image_uri: str) -> ImageReference | None:
    """The parts of an ECR image reference, or None when it is not one."""
    match = _ECR_IMAGE.match(image_uri)
    if match is None:
        return None
    return ImageReference(
        match["account"], match["region"], match["repository"], match["tag"], match["digest"]
    )


ImageKind = Literal["cpu", "arm64", "gpu", "neuron"]


def dlc_image_kind(image_uri: str) -> ImageKind | None:
    """What a Deep Learning Container image is built for, from its name; None when the image is
    not a DLC of its region or its name does not say."""
    image = parse_image(image_uri)
    if image is None or image.account not in dlc_accounts().get(image.region, frozenset()):
        return None
    words = f"{image.repository}:{image.tag or ''}".lower()
    if "neuron" in words:
        return "neuron"
    if "graviton" in words or "arm64" in words or "aarch64" in words:
        return "arm64"
    if re.search(r"(^|[-_:.])gpu([-_.]|$)", words) or re.search(r"(^|[-_:.])cu\d{2,3}([-_.]|$)", words):
        return "gpu"
    if "tensorrt" in words or "-tgi" in words or ":tgi" in words:
        return "gpu"
    if re.search(r"(^|[-_:.])cpu([-_.]|$)", words):
        return "cpu"
    return None


@dataclass(frozen=True)
class Finding:
    """One verdict on a candidate's image: `error` cannot run, `warning` runs but wastes hardware."""

    level: Literal["error", "warning"]
    path: str
    message: str

    def line(self) -> str:
        return f"{self.path}: {self.message}"


_KIND_WORDS = {
    "cpu": "an x86 CPU",
    "arm64": "a Graviton (arm64) CPU",
    "gpu": "an NVIDIA GPU",
    "neuron": "an AWS Neuron (Inferentia/Trainium)",
}
_ACCELERATOR_WORDS = {"gpu": "NVIDIA GPUs", "neuron": "AWS Neuron accelerators (Inferentia/Trainium)"}
_IMAGE_WORDS = {
    "cpu": "an x86 CPU image",
    "arm64": "an arm64 (Graviton) image",
    "gpu": "a GPU (CUDA) image",
    "neuron": "a Neuron image",
}


def image_fit(image_kind: ImageKind, hardware: Hardware) -> Literal["ok", "error", "warning"]:
    """Whether an image built for `image_kind` runs on `hardware`, and whether it uses it."""
    if image_kind == "arm64":
        return "ok" if hardware.kind == "arm64" else "error"
    if hardware.architecture == "arm64" and hardware.kind != "gpu":
        return "error"  # an x86 image on Graviton
    if image_kind == "neuron":
        return "ok" if hardware.kind == "neuron" else "error"
    if image_kind == "gpu":
        if hardware.kind != "gpu" or hardware.architecture != "x86_64":
            return "error"
        return "ok"
    # An x86 CPU image.
    if hardware.kind in ("gpu", "neuron"):
        return "warning" if hardware.architecture == "x86_64" else "error"
    return "ok"


def judge_image(image_uri: str, instance_type: str | None, path: str, image_path: str) -> Finding | None:
    """The offline verdict on one candidate's image, or None (fits, or cannot be judged)."""
    kind = dlc_image_kind(image_uri)
    if kind is None:
        return None
    hardware = hardware_of(instance_type)
    fit = image_fit(kind, hardware)
    if fit == "ok":
        return None
    target = instance_type or "serverless (x86 CPU)"
    wanted = hardware.kind
    article = "an" if wanted[0] in "aeiou" else "a"
    if fit == "warning":
        return Finding(
            "warning",
            path,
            f"{target} has {_ACCELERATOR_WORDS[hardware.kind]} but {image_path} is {_IMAGE_WORDS[kind]}: "
            f"it runs, but measures the host CPU, not the accelerator; set model.images.{wanted} to "
            f"{article} {wanted} image to measure the hardware you would buy",
        )
    return Finding(
        "error",
        path,
        f"{target} is {_KIND_WORDS[hardware.kind]} instance but {image_path} is {_IMAGE_WORDS[kind]}, "
        f"which cannot run there: set model.images.{wanted} (or {path}.container.image_uri) to "
        f"{article} {wanted} image",
    )


# vCPUs by size, and memory per vCPU by family (AWS's instance type pages); an estimate for sizing
# model copies per instance (docs/method.md §7.5), not a price input.
_VCPUS = {
    "medium": 2,
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "9xlarge": 36,
    "12xlarge": 48,
    "16xlarge": 64,
    "18xlarge": 72,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
}
_GIB_PER_VCPU = {"c": 2.0, "m": 4.0, "r": 8.0, "t": 2.0, "x": 16.0}
_GIB_PER_VCPU_FAMILY = {
    "g4dn": 4.0,
    "g5": 4.0,
    "g6": 4.0,
    "g6e": 8.0,
    "inf1": 2.0,
    "inf2": 4.0,
    "p3": 7.625,
    "p4d": 12.0,
    "p5": 10.67,
    "trn1": 4.0,
}


def instance_memory_gib(instance_type: str | None) -> float | None:
    """Host memory of a SageMaker instance type in GiB (vCPUs × GiB per vCPU); None when unknown."""
    if instance_type is None:
        return None
    _, family, size = [*instance_type.split("."), "", ""][:3]
    vcpus = _VCPUS.get(size)
    per_vcpu = _GIB_PER_VCPU_FAMILY.get(family) or _GIB_PER_VCPU.get(family[:1])
    if vcpus is None or per_vcpu is None:
        return None
    return vcpus * per_vcpu
