"""The embedded stack as a moto server on a loopback port: the demo's mode, reachable by the CLI."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import boto3
import pytest

from infercost.data.store import ResultsStore
from infercost.local.stack import EmbeddedStack
from tests.integration.workflow_support import assert_nothing_left, failed_events, run_of, spec

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_a_run_through_the_threaded_server_and_nothing_left_listening() -> None:
    with EmbeddedStack(mode="server", slack=True) as stack:
        assert stack.endpoint_url is not None
        port = urlsplit(stack.endpoint_url).port
        (execution,) = stack.evaluate(
            "models/served/model.tar.gz", spec=spec("served", [{"instance_type": "ml.g5.xlarge"}])
        )

        assert execution["status"] == "SUCCEEDED", failed_events(stack, execution["executionArn"])
        view = run_of(stack, "served")
        assert [c.status for c in view.candidates] == ["COMPLETED"]
        # Another client (the CLI with --endpoint-url) sees the same records.
        outside = boto3.client("dynamodb", endpoint_url=stack.endpoint_url, region_name=stack.region)
        seen = ResultsStore(outside, stack.table_name).get_run_by_key(view.run.key)
        assert seen is not None and [c.status for c in seen.candidates] == ["COMPLETED"]
        assert len(stack.slack_messages()) == 1
        assert_nothing_left(stack)

    with socket.socket() as probe, pytest.raises(OSError):
        probe.settimeout(1)
        probe.connect(("127.0.0.1", port or 0))
