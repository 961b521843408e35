"""One thin Lambda handler per state of the evaluation workflow.

`HANDLERS` is the authoritative list (docs/architecture.md): the CDK stack creates one function
per entry, named `<State>Function`, and the local runtime routes invocations by it. The janitor
is scheduled, and the state machine also calls it (`${JanitorFunctionArn}`) to sweep a run.
"""

HANDLERS: dict[str, str] = {
    "Prepare": "prepare",
    "LoadWorker": "load_worker",
    "LoadTest": "load_test",
    "ReleaseEndpoint": "release_endpoint",
    "CollectMetrics": "collect_metrics",
    "Teardown": "teardown",
    "Recommend": "recommend",
    "Report": "report",
    "Notify": "notify",
}
JANITOR = "janitor"


def handler_path(module: str) -> str:
    """The Lambda handler string of a module: 'infercost.handlers.<module>.handler'."""
    return f"infercost.handlers.{module}.handler"


def function_name(state: str) -> str:
    """The CDK function of a state: 'Prepare' -> 'PrepareFunction' ('janitor' -> 'JanitorFunction')."""
    return f"{state[:1].upper()}{state[1:]}Function"
