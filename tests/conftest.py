"""Shared test set-up: fake AWS credentials and region before anything imports boto3.

Unit tests must never reach AWS; moto and botocore's Stubber stand in for it.
"""

from __future__ import annotations

import os

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Never read a developer's real profile or config.
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "18,20,22,24",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "POWERTOOLS_SERVICE_NAME": "infercost",
    "POWERTOOLS_METRICS_NAMESPACE": "infercost",
    "POWERTOOLS_TRACE_DISABLED": "1",
}
for _name, _value in _FAKE_AWS_ENV.items():
    os.environ[_name] = _value
os.environ.pop("AWS_PROFILE", None)


# --- shared fixtures --------------------------------------------------------------------------

from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

REGION = "us-east-1"
RESULTS_TABLE = "results"


def aws_client(service: str) -> Any:
    """A boto3 client in the tests' region (moto answers while a mock is active)."""
    import boto3

    return boto3.client(service, region_name=REGION)


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """A fresh in-process moto account for one test."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def results_store(moto_aws: None) -> Any:
    """The results table (`infercost.data.store.table_definition`) on moto, as a ResultsStore."""
    from infercost.data.store import ResultsStore, create_table

    client = aws_client("dynamodb")
    create_table(client, RESULTS_TABLE)
    return ResultsStore(client, RESULTS_TABLE)
