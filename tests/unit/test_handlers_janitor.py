"""Nothing left running: the run sweep, the failure path and the scheduled janitor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infercost.data.endpoints import ManagedResource
from infercost.data.store import ResultsStore
from infercost.domain.models import Candidate
from infercost.domain.records import CandidateRecord, RunRecord
from infercost.domain.workflow import RunRef, resource_tags
from infercost.steps import janitor
from infercost.steps.common import run_key
from tests.conftest import aws_client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROLE = "arn:aws:iam::123456789012:role/sm"
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def aws(results_store: ResultsStore) -> dict[str, Any]:
    return {
        "sagemaker": aws_client("sagemaker"),
        "stepfunctions": aws_client("stepfunctions"),
        "store": results_store,
    }


def run_ref(run_id: str = "0123456789", model: str = "m") -> RunRef:
    return RunRef.model_validate(
        {
            "model": model,
            "started_at": "2029-12-31T23:00:00.000Z",
            "run_id": run_id,
            "execution_arn": f"arn:aws:states:us-east-1:123456789012:execution:sm:{run_id}",
            "artifact": {"bucket": "b", "key": f"models/{model}/model.tar.gz", "version_id": "v1"},
        }
    )


def record_run(
    store: ResultsStore,
    run: RunRef,
    status: str = "RUNNING",
    candidates: int = 0,
    execution_arn: str | None = None,
) -> None:
    key = dict(model=run.model, started_at=run.started_at, run_id=run.run_id)
    store.create_run(RunRecord(**key, execution_arn=execution_arn))
    for index in range(candidates):
        store.put_candidate(
            RunRecord(**key),
            CandidateRecord(run_id=run.run_id, index=index, candidate=Candidate(instance_type="ml.c5.large")),
        )
    if status != "RUNNING":
        store.finish_run(RunRecord(**key), status=status, finished_at=NOW)  # type: ignore[arg-type]


def create(sagemaker: Any, name: str, run_id: str) -> None:
    tags = resource_tags(run_id)
    sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"}, Tags=tags)
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": name, "InstanceType": "ml.m5.large"}],
        Tags=tags,
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name, Tags=tags)


def existing(sagemaker: Any) -> list[str]:
    return sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]) + sorted(
        m["ModelName"] for m in sagemaker.list_models()["Models"]
    )


def resource(run_id: str | None, age: timedelta | None, kind: str = "endpoint") -> ManagedResource:
    return ManagedResource(
        kind=kind,  # type: ignore[arg-type]
        name=f"infercost-{run_id}-00-x",
        arn="arn",
        run_id=run_id,
        created_at=None if age is None else NOW - age,
    )


def test_selection_deletes_finished_unknown_and_old_and_keeps_running_and_young() -> None:
    statuses = {"run": "RUNNING", "done": "SUCCEEDED", "failed": "FAILED"}
    cases = {
        "running": resource("run", timedelta(minutes=10)),
        "running but old": resource("run", timedelta(hours=4)),
        "succeeded": resource("done", timedelta(minutes=1)),
        "failed": resource("failed", timedelta(minutes=1)),
        "unknown and young": resource("nobody", timedelta(minutes=1)),
        "unknown and old": resource("nobody", timedelta(hours=1)),
        "unknown, no date": resource(None, None),
    }

    chosen = janitor.select_for_deletion(cases.values(), statuses, now=NOW, max_age=timedelta(hours=3))

    reasons = {next(k for k, v in cases.items() if v is r): why for r, why in chosen}
    assert set(reasons) == {"running but old", "succeeded", "failed", "unknown and old", "unknown, no date"}
    assert "older than" in reasons["running but old"]
    assert "is SUCCEEDED" in reasons["succeeded"]
    assert "is unknown" in reasons["unknown and old"]


def test_scheduled_janitor_keeps_running_runs_and_deletes_the_rest(aws: dict[str, Any]) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    record_run(store, run_ref("aaaaaaaaaa"), "RUNNING")
    record_run(store, run_ref("bbbbbbbbbb"), "FAILED")
    create(sagemaker, "infercost-aaaaaaaaaa-00-x", "aaaaaaaaaa")
    create(sagemaker, "infercost-bbbbbbbbbb-00-x", "bbbbbbbbbb")

    summary = janitor.janitor_sweep(
        "infercost",
        sagemaker=sagemaker,
        stepfunctions=aws["stepfunctions"],
        store=store,
        max_age=timedelta(hours=3),
        now=lambda: datetime.now(UTC),
    )

    assert existing(sagemaker) == ["infercost-aaaaaaaaaa-00-x", "infercost-aaaaaaaaaa-00-x"]
    assert summary.endpoints_deleted == 1 and summary.endpoints_over_max_age == 0
    assert "endpoint infercost-bbbbbbbbbb-00-x" in summary.deleted
    assert summary.failures == {}


def test_scheduled_janitor_counts_and_deletes_endpoints_over_max_age(aws: dict[str, Any]) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    record_run(store, run_ref("aaaaaaaaaa"), "RUNNING")
    create(sagemaker, "infercost-aaaaaaaaaa-00-x", "aaaaaaaaaa")

    summary = janitor.janitor_sweep(
        "infercost",
        sagemaker=sagemaker,
        stepfunctions=aws["stepfunctions"],
        store=store,
        max_age=timedelta(hours=3),
        now=lambda: datetime.now(UTC) + timedelta(hours=4),
    )

    assert summary.endpoints_over_max_age == 1 and summary.endpoints_deleted == 1
    assert existing(sagemaker) == []


def executions(stepfunctions: Any, count: int) -> list[str]:
    """Executions of a state machine (moto keeps them RUNNING until stopped)."""
    machine = stepfunctions.create_state_machine(
        name="evaluate",
        roleArn=ROLE,
        definition=json.dumps({"StartAt": "W", "States": {"W": {"Type": "Succeed"}}}),
    )["stateMachineArn"]
    return [
        stepfunctions.start_execution(stateMachineArn=machine, name=f"e{i}")["executionArn"]
        for i in range(count)
    ]


def test_scheduled_janitor_closes_a_run_whose_execution_ended_unrecorded(aws: dict[str, Any]) -> None:
    # An execution stopped by hand (or timed out) ran no failure path: its run would stay
    # RUNNING, and its endpoint would live until the maximum age (three hours of billing).
    sagemaker, store, stepfunctions = aws["sagemaker"], aws["store"], aws["stepfunctions"]
    aborted, running = executions(stepfunctions, 2)
    stepfunctions.stop_execution(executionArn=aborted, error="Stopped", cause="stopped by an operator")
    record_run(store, run_ref("aaaaaaaaaa"), candidates=1, execution_arn=aborted)
    record_run(store, run_ref("bbbbbbbbbb"), candidates=1, execution_arn=running)
    create(sagemaker, "infercost-aaaaaaaaaa-00-x", "aaaaaaaaaa")
    create(sagemaker, "infercost-bbbbbbbbbb-00-x", "bbbbbbbbbb")

    summary = janitor.janitor_sweep(
        "infercost",
        sagemaker=sagemaker,
        stepfunctions=stepfunctions,
        store=store,
        max_age=timedelta(hours=3),
        now=lambda: datetime.now(UTC),
    )

    assert summary.runs_closed == ["aaaaaaaaaa ABORTED"]
    closed = store.get_run_by_key(run_key(run_ref("aaaaaaaaaa")))
    assert closed is not None and closed.run.status == "FAILED"
    assert "its execution ended ABORTED without recording the outcome" in (closed.run.error or "")
    assert closed.candidates[0].status == "FAILED"
    # Deleted at once, not at the maximum age; the running run keeps its endpoint.
    assert existing(sagemaker) == ["infercost-bbbbbbbbbb-00-x", "infercost-bbbbbbbbbb-00-x"]
    assert [r.run_id for r in store.open_runs()] == ["bbbbbbbbbb"]


def settle_later(name: str, status: str = "Creating") -> None:
    """Make moto's endpoint `name` report `status` (moto creates endpoints InService at once)."""
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends["123456789012"]["us-east-1"].endpoints[name].endpoint_status = status


def test_an_endpoint_still_creating_waits_for_a_later_pass_with_its_config_and_model(
    aws: dict[str, Any],
) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    record_run(store, run_ref("bbbbbbbbbb"), "FAILED")
    create(sagemaker, "infercost-bbbbbbbbbb-00-x", "bbbbbbbbbb")
    settle_later("infercost-bbbbbbbbbb-00-x")

    sweep = lambda: janitor.janitor_sweep(  # noqa: E731
        "infercost",
        sagemaker=sagemaker,
        stepfunctions=aws["stepfunctions"],
        store=store,
        max_age=timedelta(hours=3),
    )
    first = sweep()

    assert first.failures == {} and first.deleted == []
    assert sorted(first.waiting) == [
        "endpoint infercost-bbbbbbbbbb-00-x",
        "endpoint-config infercost-bbbbbbbbbb-00-x",
        "model infercost-bbbbbbbbbb-00-x",
    ]
    assert len(existing(sagemaker)) == 2
    settle_later("infercost-bbbbbbbbbb-00-x", "Failed")
    second = sweep()
    assert second.endpoints_deleted == 1 and existing(sagemaker) == []


def test_run_sweep_deletes_leftovers_and_fails_unfinished_candidates(aws: dict[str, Any]) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    run = run_ref()
    record_run(store, run, candidates=2)
    create(sagemaker, "infercost-0123456789-01-x", run.run_id)
    create(sagemaker, "infercost-9999999999-00-x", "9999999999")  # another run: untouched

    summary = janitor.sweep_run(run, "infercost", sagemaker=sagemaker, store=store)

    assert summary.unfinished == 2 and len(summary.deleted) == 3
    assert existing(sagemaker) == ["infercost-9999999999-00-x", "infercost-9999999999-00-x"]
    view = store.get_run_by_key(run_key(run_ref()))
    assert view is not None
    assert {c.status for c in view.candidates} == {"FAILED"}
    assert all("teardown did not complete" in (c.error or "") for c in view.candidates)


class RefusingDeletes:
    """A SageMaker client whose endpoint deletions fail (a real client for everything else)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def delete_endpoint(self, **kwargs: Any) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "ResourceInUse", "Message": "busy"}}, "DeleteEndpoint")


def test_run_sweep_never_fails_the_run_and_leaves_what_it_cannot_delete(aws: dict[str, Any]) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    run = run_ref()
    record_run(store, run, candidates=1)
    create(sagemaker, "infercost-0123456789-00-x", run.run_id)

    summary = janitor.sweep_run(run, "infercost", sagemaker=RefusingDeletes(sagemaker), store=store)

    assert summary.left_to_janitor == ["endpoint infercost-0123456789-00-x (ResourceInUse: busy)"]
    view = store.get_run_by_key(run_key(run))
    assert view is not None and view.candidates[0].status == "FAILED"


def test_run_sweep_skips_what_teardown_is_already_deleting(aws: dict[str, Any]) -> None:
    # SageMaker refuses to delete an endpoint that is Deleting; it is gone for our purposes.
    sagemaker, store = aws["sagemaker"], aws["store"]
    run = run_ref()
    record_run(store, run, candidates=1)
    create(sagemaker, "infercost-0123456789-00-x", run.run_id)
    settle_later("infercost-0123456789-00-x", "Deleting")

    summary = janitor.sweep_run(run, "infercost", sagemaker=RefusingDeletes(sagemaker), store=store)

    assert summary.left_to_janitor == []
    assert sorted(summary.deleted) == [
        "endpoint-config infercost-0123456789-00-x",
        "model infercost-0123456789-00-x",
    ]


def fail_event(state: dict[str, Any], run_id: str = "0123456789") -> janitor.FailEvent:
    return janitor.FailEvent(
        action="fail",
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:sm:{run_id}",
        execution_started_at="2029-12-31T23:00:00.000Z",
        state=state,
    )


def test_failure_path_records_a_run_prepare_never_created(aws: dict[str, Any]) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    event = json.loads((FIXTURES / "eventbridge_s3_object_created.json").read_text())
    state = {
        **event,
        "failed_state": "Prepare",
        "error": {"Error": "Lambda.ServiceException", "Cause": "Rate exceeded"},
    }

    summary = janitor.record_failure(
        fail_event(state), "infercost", sagemaker=sagemaker, store=store, region="us-east-1"
    )

    assert summary.run.model == "densenet121"
    assert summary.reason == "Prepare failed: Rate exceeded"
    (run,) = store.history("densenet121")
    assert run.status == "FAILED" and run.error == summary.reason
    assert run.artifact is not None and run.artifact.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"
    # Again (a retried Lambda): same outcome, still one run.
    janitor.record_failure(
        fail_event(state), "infercost", sagemaker=sagemaker, store=store, region="us-east-1"
    )
    assert [r.status for r in store.history("densenet121")] == ["FAILED"]


def test_failure_path_sweeps_the_run_and_says_what_it_could_not_delete(aws: dict[str, Any]) -> None:
    sagemaker, store = aws["sagemaker"], aws["store"]
    run = run_ref()
    record_run(store, run, candidates=1)
    create(sagemaker, "infercost-0123456789-00-x", run.run_id)
    state = {
        "evaluation": {"accepted": True, "run": run.model_dump(mode="json")},
        "failed_state": "Recommend",
        "error": {"Error": "X", "Cause": json.dumps({"errorMessage": "broke"})},
    }

    summary = janitor.record_failure(
        fail_event(state), "infercost", sagemaker=RefusingDeletes(sagemaker), store=store, region="us-east-1"
    )

    assert summary.reason == (
        "Recommend failed: broke (left to the scheduled janitor: "
        "endpoint infercost-0123456789-00-x (ResourceInUse: busy))"
    )
    assert existing(sagemaker) == ["infercost-0123456789-00-x"]  # the config and model are gone
    view = store.get_run_by_key(run_key(run))
    assert view is not None and view.run.status == "FAILED"
    assert view.candidates[0].status == "FAILED" and "run failed" in (view.candidates[0].error or "")


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (
            {"evaluation": {"accepted": False, "error": "candidates[0]: bad"}, "failed_state": "Prepare"},
            "candidates[0]: bad",
        ),
        ({"evaluation": {"accepted": False}}, "the evaluation spec was refused"),
        ({"failed_state": "Report"}, "Report failed"),
        ({}, "the workflow failed"),
    ],
)
def test_failure_reason(state: dict[str, Any], reason: str) -> None:
    assert janitor.failure_reason(state) == reason
