"""A candidate's own container, and the limits CreateModel puts on a container's environment."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from infercost.domain.hardware import ECR_IMAGE_PATTERN

# CreateModel's container environment (SageMaker API reference, ContainerDefinition.Environment):
# at most 100 variables, each name and value up to 1024 bytes, all together up to 32 KB.
ENVIRONMENT_MAX_VARIABLES = 100
ENVIRONMENT_MAX_ITEM_BYTES = 1024
ENVIRONMENT_MAX_TOTAL_BYTES = 32 * 1024
ENVIRONMENT_NAME_PATTERN = r"^[a-zA-Z_][a-zA-Z0-9_]*$"


def check_environment(value: dict[str, str]) -> dict[str, str]:
    """CreateModel's limits on a container's environment."""
    if len(value) > ENVIRONMENT_MAX_VARIABLES:
        raise ValueError(f"SageMaker takes at most {ENVIRONMENT_MAX_VARIABLES} variables, got {len(value)}")
    total = 0
    for name, text in value.items():
        if not re.match(ENVIRONMENT_NAME_PATTERN, name):
            raise ValueError(f"{name!r} is not a variable name (letters, digits, '_'; no leading digit)")
        for part in (name, text):
            size = len(part.encode("utf-8"))
            if size > ENVIRONMENT_MAX_ITEM_BYTES:
                raise ValueError(
                    f"{name!r}: a name or value is at most {ENVIRONMENT_MAX_ITEM_BYTES} bytes, got {size}"
                )
            total += size
    if total > ENVIRONMENT_MAX_TOTAL_BYTES:
        raise ValueError(
            f"names and values come to {total} bytes; SageMaker takes at most "
            f"{ENVIRONMENT_MAX_TOTAL_BYTES} (32 KB) in all"
        )
    return value


def environment_bytes(value: dict[str, str]) -> int:
    return sum(len(name.encode()) + len(text.encode()) for name, text in value.items())


def _ecr_image(value: str) -> str:
    if not re.match(ECR_IMAGE_PATTERN, value):
        raise ValueError(
            "must be an ECR image such as "
            "'763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.3-cpu-py311' "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> or @sha256:<digest>; "
            "SageMaker pulls images from ECR: push others to a repository of your account)"
        )
    return value


ImageUri = Annotated[
    str,
    AfterValidator(_ecr_image),
    Field(
        description="an ECR image: <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag> (or @sha256:…)"
    ),
]


class ContainerOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    """What one candidate runs instead of the spec's model: its image, artifact, environment."""

    image_uri: ImageUri | None = None
    model_data_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        description="an object in the artifacts bucket (default: the uploaded artifact)",
    )
    environment: dict[str, str] | None = Field(
        default=None, description="replaces the model's environment for this candidate; never stored"
    )

    @field_validator("model_data_key")
    @classmethod
    def _in_the_bucket(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if "://" in value or value.startswith("/") or ".." in value.split("/"):
            raise ValueError(
                "must be a key in the artifacts bucket, such as 'models/tiny-mlp/model-neuron.tar.gz' "
                "(not a URI, no leading '/', no '..'): upload the object beside the artifact"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _sagemaker_environment(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else check_environment(value)
