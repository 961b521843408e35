"""`infercost demo`: the whole product on this machine — an embedded stack, an upload, the real
workflow with real handlers and real HTTP load, and what it left behind."""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infercost.domain.errors import InfercostError, InputError
from infercost.domain.hardware import EXAMPLE_IMAGES
from infercost.domain.models import EvaluationSpec
from infercost.local.faults import Faults

if TYPE_CHECKING:
    from infercost.local.stack import EmbeddedStack
from infercost.local.demo_outcome import (
    DemoOutcome,
    DemoStatus,
    candidate_outcomes,
    count_items,
    write_report,
    write_results,
)
from infercost.local.demo_progress import DemoProgress, ProgressTracker

DEMO_MODEL = "tiny-mlp"


# A fixed list, so `--candidates N` always means the same N. The first four differ clearly in
# their simulated speed: a small CPU, a large CPU, a GPU that batches, and serverless (cold starts).
DEMO_CANDIDATES: tuple[Mapping[str, Any], ...] = (
    {"instance_type": "ml.c7g.large"},
    {"instance_type": "ml.c6i.4xlarge"},
    {"instance_type": "ml.g5.xlarge"},
    {"serverless": {"memory_mb": 4096, "max_concurrency": 8}},
    {"instance_type": "ml.inf2.xlarge"},
    {"instance_type": "ml.g6.xlarge"},
    {"instance_type": "ml.g4dn.xlarge"},
    {"instance_type": "ml.m5.large"},
    # The seed method's host (its Elastic Inference accelerator is retired: docs/method.md).
    {"instance_type": "ml.c5.large"},
    {"instance_type": "ml.c6i.large"},
    {"instance_type": "ml.m6i.xlarge"},
    {"instance_type": "ml.c7g.2xlarge"},
    {"instance_type": "ml.inf1.xlarge"},
    {"instance_type": "ml.c5.xlarge"},
    {"instance_type": "ml.g5.2xlarge"},
    {"serverless": {"memory_mb": 2048, "max_concurrency": 8}},
    {"instance_type": "ml.c7g.xlarge"},
    {"instance_type": "ml.m5.xlarge"},
    {"instance_type": "ml.g4dn.2xlarge"},
    {"instance_type": "ml.c6i.xlarge"},
)


DEFAULT_CANDIDATES = 4


# Between the simulated GPUs and Inferentia (P90 well under 30 ms) and the CPUs (well over).
DEMO_SLO: dict[str, Any] = {"percentile": "p90", "max_latency_ms": 30}


# Enough requests for percentiles and a two-level sweep, few enough for a run of seconds.
# Two workers share the sweep, as a sweep too big for one Lambda would: the demo shows the fan-out.
DEMO_LOAD: dict[str, Any] = {
    "warmup": 5,
    "requests": 40,
    "concurrency": [1, 4],
    "requests_per_level": 40,
    "workers": 2,
}


# A business day, hour 0 (UTC) first: quiet at night, 40 req/s at the midday peak; about 42 M
# requests a month. The monthly objective simulates autoscaling on it (docs/method.md §7).
DEMO_TRAFFIC: dict[str, Any] = {
    "hourly_rps": [
        2,
        1.2,
        0.8,
        0.8,
        1.2,
        2.4,
        6,
        12,
        20,
        28,
        32,
        36,
        40,
        36,
        32,
        32,
        28,
        24,
        16,
        12,
        8,
        6,
        4,
        2.8,
    ]
}


RUN_TIMEOUT_S = 240.0


POLL_INTERVAL_S = 0.25


# After stopping an execution that overran, how long to wait for it to say so.
STOP_GRACE_S = 10.0


# The local Slack stand-in stops itself after an hour; so does the explorable stack.
KEEP_RUNNING_MAX_S = 3600.0


def demo_spec(
    count: int = DEFAULT_CANDIDATES,
    *,
    model: str = DEMO_MODEL,
    load: Mapping[str, Any] | None = None,
    workload: str = "classic",
) -> dict[str, Any]:
    """The evaluation spec the demo uploads: the first `count` demo candidates, a real payload
    (or, with `workload="llm"`, the LLM demo's: local/demo_llm.py)."""
    from infercost.local.model_server import sample_payload

    if workload == "llm":
        from infercost.local.demo_llm import llm_demo_spec

        return llm_demo_spec(count, model=model, load=load)
    return {
        # An image per hardware kind, as a real spec needs (the local model servers ignore them).
        "model": {"name": model, "images": dict(EXAMPLE_IMAGES)},
        "payload": {"content_type": "application/json", "body": sample_payload().decode()},
        "candidates": [dict(candidate) for candidate in DEMO_CANDIDATES[:count]],
        "slo": dict(DEMO_SLO),
        "load": dict(load or DEMO_LOAD),
        "traffic": dict(DEMO_TRAFFIC),
        "max_benchmark_cost_usd": 5.0,
    }


def model_artifact(model: str, workload: str = "classic", **declared: Any) -> bytes:
    """A real model.tar.gz: the local model servers build the same small MLP from its seed (or,
    for the LLM demo, serve the deterministic text generator its kind names)."""
    from infercost.local.model_server import MODEL_SEED, N_CLASSES, N_FEATURES, N_HIDDEN
    from infercost.local.text_model import TEXT_MODEL_KIND

    document: dict[str, Any] = {
        "model": model,
        "kind": "mlp",
        "layers": [N_FEATURES, N_HIDDEN, N_CLASSES],
        "seed": MODEL_SEED,
        "note": "served by infercost's local model server, which builds the weights from the seed",
    }
    if workload == "llm":
        document = {
            "model": model,
            "kind": TEXT_MODEL_KIND,
            "note": "served by infercost's local model server: a deterministic streaming text generator",
            **declared,
        }
    description = json.dumps(document, indent=2).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        entry = tarfile.TarInfo("model.json")
        entry.size = len(description)
        entry.mtime = 0
        archive.addfile(entry, io.BytesIO(description))
    return buffer.getvalue()


@dataclass(frozen=True)
class DemoOptions:
    """What `infercost demo` was asked for."""

    candidates: int = DEFAULT_CANDIDATES
    out: Path = Path("infercost-demo")
    fail_at: str | None = None
    keep_running: bool = False
    model: str = DEMO_MODEL
    timeout_s: float = RUN_TIMEOUT_S
    # The spec's load plan instead of DEMO_LOAD (tests keep their runs short with it).
    load: Mapping[str, Any] | None = None
    # classic (the MLP, one payload) or llm (streamed generations, token metrics).
    workload: str = "classic"

    def faults(self) -> Faults:
        """The fault to inject; an unknown point is an InputError naming the valid ones."""
        return Faults.of(self.fail_at)

    def check(self) -> None:
        """Refuse bad options before anything starts, each with one line naming the option."""
        if not 1 <= self.candidates <= len(DEMO_CANDIDATES):
            raise InputError(
                f"must be between 1 and {len(DEMO_CANDIDATES)}, got {self.candidates}",
                field="--candidates",
            )
        self.faults()
        if self.workload not in ("classic", "llm"):
            raise InputError(f"must be classic or llm, got {self.workload!r}", field="--workload")
        if self.out.exists() and not self.out.is_dir():
            raise InputError(f"{self.out} is a file, not a directory", field="--out")


class DemoSession:
    """The embedded stack for one demo run: start it, run the evaluation, stop everything.

    Given a running `stack` (tests share one), the session injects its fault into it and, on
    leaving, switches faults off and restores the quotas a `no-quota` fault changed.
    """

    def __init__(self, options: DemoOptions, *, stack: EmbeddedStack | None = None) -> None:
        options.check()
        self.options = options
        self.stack = stack
        self._own = stack is None
        self._saved_quotas: dict[str, int] = {}
        self._started = 0.0
        self._stack_ready = 0.0

    def __enter__(self) -> DemoSession:
        self._started = time.monotonic()
        try:
            from infercost.local.stack import EmbeddedStack
        except ImportError as missing:  # pragma: no cover - only without the 'local' extra
            raise InfercostError(
                f"the demo needs the local stack's packages ({missing.name} is missing)",
                hint="pip install 'infercost[local]'",
            ) from None
        if self.stack is None:
            self.stack = EmbeddedStack(
                mode="server", slack=True, faults=self.options.faults(), prices="snapshot"
            )
            self.stack.start()
        else:
            self._saved_quotas = dict(self.stack.runtime.quotas) if self.stack.runtime else {}
            self.stack.inject(self.options.fail_at)
        self._stack_ready = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        stack = self.stack
        if stack is None:
            return
        if self._own:
            stack.stop()
            return
        stack.inject(None)
        if stack.runtime is not None:
            stack.runtime.quotas.clear()
            stack.runtime.quotas.update(self._saved_quotas)
        stack.quotas.clear()
        stack.quotas.update(self._saved_quotas)

    @property
    def running(self) -> EmbeddedStack:
        if self.stack is None:
            raise RuntimeError("the demo session has not started")
        return self.stack

    def run(self, on_progress: Callable[[DemoProgress], None] | None = None) -> DemoOutcome:
        """Upload the model and its spec, follow the run it starts, and collect the outcome."""
        stack = self.running
        options = self.options
        out = _output_dir(options.out)
        spec_data = demo_spec(
            options.candidates, model=options.model, load=options.load, workload=options.workload
        )
        spec = EvaluationSpec.model_validate(spec_data)
        sns_before = len(stack.notifications())
        slack_before = len(stack.slack_messages())
        before = {execution["executionArn"] for execution in stack.executions()}
        key = f"{stack.key_prefix}{options.model}/model{stack.key_suffix}"
        uploaded = time.monotonic()
        stack.upload_model(key, spec=spec_data, artifact=model_artifact(options.model, options.workload))
        execution_arn = _started_execution(stack, before)

        from infercost.domain.workflow import run_identity

        run_id = run_identity(execution_arn)
        tracker = ProgressTracker(
            stack,
            spec,
            started_by=f"uploaded s3://{stack.bucket}/{key}; EventBridge started execution "
            f"{execution_arn.rsplit(':', 1)[-1]} of {stack.state_machine_arn.rsplit(':', 1)[-1]}",
        )
        deadline = uploaded + options.timeout_s
        stopped = False
        while True:
            progress = tracker.look(execution_arn, run_id, time.monotonic() - self._started)
            if on_progress is not None:
                on_progress(progress)
            if progress.status != "RUNNING" or time.monotonic() > deadline + STOP_GRACE_S:
                break
            if time.monotonic() > deadline and not stopped:
                stack.client("stepfunctions").stop_execution(
                    executionArn=execution_arn,
                    cause=f"the demo's evaluation did not finish within {options.timeout_s:g} s",
                )
                stopped = True
            time.sleep(POLL_INTERVAL_S)
        run_seconds = time.monotonic() - uploaded
        execution = stack.client("stepfunctions").describe_execution(executionArn=execution_arn)
        janitor_deleted = self._after_the_stuck_endpoint_settles()
        return self._outcome(
            execution,
            run_id,
            spec,
            out,
            sns_before=sns_before,
            slack_before=slack_before,
            run_seconds=run_seconds,
            janitor_deleted=janitor_deleted,
        )

    def _after_the_stuck_endpoint_settles(self) -> list[str]:
        """With 'stuck-creating': the endpoint SageMaker would not delete settles (on AWS, up to an
        hour later) and the scheduled janitor deletes it; what the janitor deleted."""
        runtime = self.running.runtime
        if runtime is None or not runtime.settle():
            return []
        deleted: list[str] = self.running.run_janitor()["deleted"]
        return deleted

    def _outcome(
        self,
        execution: Mapping[str, Any],
        run_id: str,
        spec: EvaluationSpec,
        out: Path,
        *,
        sns_before: int,
        slack_before: int,
        run_seconds: float,
        janitor_deleted: list[str],
    ) -> DemoOutcome:
        from infercost.domain.models import SIMULATED_HARDWARE

        stack = self.running
        view = stack.store.get_run(run_id)
        recommendation = view.run.parsed_recommendation() if view else None
        leftovers = stack.leftovers()
        sns = stack.notifications()[sns_before:]
        slack = stack.slack_messages()[slack_before:]
        report, report_source = write_report(stack, view, out / f"report-{run_id}.html")
        results = write_results(view, out / f"results-{run_id}.json")
        candidates = candidate_outcomes(view, spec, recommendation)
        status: DemoStatus = "SUCCEEDED" if execution["status"] == "SUCCEEDED" else "FAILED"
        error = None
        if status == "FAILED":
            error = (view.run.error if view else None) or str(execution.get("cause") or execution["status"])
        return DemoOutcome(
            run_id=run_id,
            status=status,
            execution_status=str(execution["status"]),
            execution_arn=str(execution["executionArn"]),
            error=error,
            model=self.options.model,
            recommended=(
                recommendation.recommended.model_dump(mode="json")
                if recommendation and recommendation.recommended
                else None
            ),
            reason=recommendation.reason if recommendation else None,
            candidates=candidates,
            candidates_completed=sum(1 for c in candidates if c.status == "COMPLETED"),
            endpoints_left=len(leftovers["endpoints"]),
            janitor_deleted=janitor_deleted,
            left_running=leftovers,
            leftovers=sum(len(names) for names in leftovers.values()),
            dynamodb={
                "table": stack.table_name,
                **count_items(stack, run_id, str(execution["executionArn"]), self.options.model),
            },
            report=str(report) if report else None,
            report_source=report_source,
            results=str(results) if results else None,
            notifications={
                "sns": len(sns),
                "slack": len(slack),
                "sns_subjects": [str(message.get("Subject", "")) for message in sns],
            },
            wall_seconds=round(time.monotonic() - self._started, 2),
            stack_start_seconds=round(self._stack_ready - self._started, 2),
            run_seconds=round(run_seconds, 2),
            endpoint_url=stack.endpoint_url,
            fail_at=self.options.fail_at,
            simulated=SIMULATED_HARDWARE,
            recommendation=recommendation,
        )

    def explore_commands(self, run_id: str) -> list[str]:
        """Ready-to-paste commands that read the running local stack (for --keep-running)."""
        stack = self.running
        where = f"--endpoint-url {stack.endpoint_url} --table {stack.table_name} --region {stack.region}"
        return [
            "export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
            f"infercost history {self.options.model} {where}",
            f"infercost show {run_id} {where}",
            f"infercost report {run_id} --out report.html {where}",
            f"aws --endpoint-url {stack.endpoint_url} --region {stack.region} stepfunctions "
            f"list-executions --state-machine-arn {stack.state_machine_arn}",
        ]


def wait_until_interrupted(max_s: float = KEEP_RUNNING_MAX_S, *, tick_s: float = 0.5) -> bool:
    """Block until Ctrl-C (True) or until `max_s` passed (False)."""
    deadline = time.monotonic() + max_s
    try:
        while time.monotonic() < deadline:
            time.sleep(min(tick_s, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        return True
    return False


def run_demo(
    options: DemoOptions,
    *,
    stack: EmbeddedStack | None = None,
    on_progress: Callable[[DemoProgress], None] | None = None,
) -> DemoOutcome:
    """One demo run from start to stop (without --keep-running's pause)."""
    with DemoSession(options, stack=stack) as session:
        return session.run(on_progress)


def _output_dir(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"cannot create {out}: {error.strerror or error}", field="--out") from None
    return out


def _started_execution(stack: EmbeddedStack, before: set[str], timeout_s: float = 10.0) -> str:
    """The execution the upload started (EventBridge -> Step Functions), waiting briefly for it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        new = [e["executionArn"] for e in stack.executions() if e["executionArn"] not in before]
        if new:
            return str(new[0])
        time.sleep(0.05)
    raise InfercostError(
        f"the upload started no evaluation within {timeout_s:g} s",
        hint="the EventBridge rule did not match the artifact key",
    )
