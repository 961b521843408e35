"""Teardown as SageMaker allows it, on the local stack that enforces SageMaker's rules.

An endpoint still Creating cannot be deleted (users report endpoints stuck in Creating for up to
an hour), and one already Deleting is gone for our purposes. The workflow never fails a run for
either, and nothing is left running once the scheduled janitor has had its turn.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infercost.local.stack import EmbeddedStack
from tests.integration.workflow_support import assert_nothing_left, describe, failed_events, run_of, spec

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]

C5 = {"instance_type": "ml.c5.large"}
G5 = {"instance_type": "ml.g5.xlarge"}


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    # Three polls until the endpoint deadline.
    with EmbeddedStack(timing={"endpoint_deadline_seconds": 3}) as stack:
        yield stack
    assert stack.leaked_servers == []


def test_an_endpoint_stuck_creating_is_left_to_the_janitor_which_deletes_it_once_it_settles(
    stack: EmbeddedStack,
) -> None:
    stack.inject("stuck-creating")
    (execution,) = stack.evaluate("models/stuck/model.tar.gz", spec=spec("stuck", [C5, G5]))
    stack.inject(None)

    # The run is healthy: the stuck candidate failed, the other was measured and recommended.
    assert execution["status"] == "SUCCEEDED", describe(execution)
    view = run_of(stack, "stuck")
    stuck, measured = view.candidates
    assert stuck.status == "FAILED" and measured.status == "COMPLETED"
    assert "was not InService within 3 seconds" in (stuck.error or "")
    assert "still Creating after 2 s" in (stuck.error or "") and "janitor deletes it" in (stuck.error or "")
    # SageMaker refused nothing: nobody tried to delete what could not be deleted yet.
    assert not [e for e in failed_events(stack, execution["executionArn"]) if "in-progress" in e]
    left = stack.leftovers()
    assert left["endpoints"] == left["endpoint_configs"] == left["models"] == [stuck.endpoint_name]

    # An hour later it fails on its own; the next janitor pass deletes it with its config and model.
    assert stack.runtime is not None and stack.runtime.settle() == [stuck.endpoint_name]
    summary = stack.run_janitor()

    assert summary["endpoints_deleted"] == 1 and summary["failures"] == {} and summary["waiting"] == []
    assert_nothing_left(stack)


def test_the_janitor_waits_while_an_endpoint_is_still_creating(stack: EmbeddedStack) -> None:
    stack.inject("stuck-creating")
    (execution,) = stack.evaluate("models/stuck-twice/model.tar.gz", spec=spec("stuck-twice", [C5]))
    stack.inject(None)
    assert execution["status"] == "FAILED"  # its only candidate could not be measured
    (record,) = run_of(stack, "stuck-twice").candidates

    waiting = stack.run_janitor()
    assert waiting["failures"] == {} and waiting["endpoints_deleted"] == 0
    assert f"endpoint {record.endpoint_name}" in waiting["waiting"]

    assert stack.runtime is not None and stack.runtime.settle()
    assert stack.run_janitor()["endpoints_deleted"] == 1
    assert_nothing_left(stack)


def test_endpoints_already_deleting_are_not_deleted_again(stack: EmbeddedStack) -> None:
    assert stack.runtime is not None
    # Each deleted endpoint is seen Deleting twice before it is gone.
    stack.runtime.deleting_looks = 2
    try:
        (execution,) = stack.evaluate("models/deleting/model.tar.gz", spec=spec("deleting", [C5, G5]))
    finally:
        stack.runtime.deleting_looks = 0

    assert execution["status"] == "SUCCEEDED", describe(execution)
    assert [c.status for c in run_of(stack, "deleting").candidates] == ["COMPLETED", "COMPLETED"]
    # ReleaseEndpoint deleted each endpoint; Teardown and the run sweep then saw it Deleting
    # and left it alone, where a second DeleteEndpoint would have been refused.
    errors = failed_events(stack, execution["executionArn"])
    assert not [e for e in errors if "already being deleted" in e or "TeardownIncomplete" in e], errors
    assert_nothing_left(stack)
