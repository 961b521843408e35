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
