"""Reading stored runs for the CLI: which table, one run by id, a model's history, regressions.

The table is the deployed stack's (`--table`, or `--stack` reading its CloudFormation output
`ResultsTableName`, or `INFERCOST_TABLE_NAME`) or the local demo's (`--endpoint-url` pointing at
its moto server). Lookups that find nothing say what does exist, so the next command is right.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from infercost.domain.errors import InputError

if TYPE_CHECKING:
    from infercost.data.store import ResultsStore
    from infercost.domain.records import RunRecord, RunView
    from infercost.domain.regression import Regression

TABLE_ENV = "INFERCOST_TABLE_NAME"
TABLE_OUTPUT = "ResultsTableName"
# Bounds for the "did you mean" search over stored run ids.
SUGGEST_MODELS = 20
SUGGEST_RUNS_PER_MODEL = 50


def describe_stack(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    """DescribeStacks' answer for one deployed stack; a stack that cannot be read is an InputError."""
    from botocore.exceptions import ClientError

    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise InputError(
            f"cannot read stack {stack_name!r}: {message}",
            field="--stack",
            hint="check the stack name and region (--region), or pass --table NAME",
        ) from None
    stack: dict[str, Any] = stacks[0]
    return stack


def find_output(outputs: Mapping[str, str], output_key: str) -> str | None:
    """The value of `output_key` among a stack's outputs; CDK may add a suffix to an output
    defined inside a construct, so one key that starts with it counts too."""
    if output_key in outputs:
        return str(outputs[output_key])
    prefixed = sorted(key for key in outputs if key.startswith(output_key))
    return str(outputs[prefixed[0]]) if len(prefixed) == 1 else None


def stack_output(cloudformation: Any, stack_name: str, output_key: str) -> str:
    """The value of one output of a deployed CloudFormation stack."""
    stack = describe_stack(cloudformation, stack_name)
    outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
    value = find_output(outputs, output_key)
    if value is not None:
        return value
    known = ", ".join(sorted(outputs)) or "none"
    raise InputError(
        f"stack {stack_name!r} has no output {output_key} (its outputs: {known})",
        field="--stack",
        hint="is this the infercost stack? Or pass --table NAME",
    )


def resolve_table_name(
    *,
    table: str | None,
    stack: str | None,
    cloudformation: Any = None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The results table: --table, else the stack's ResultsTableName output, else the environment."""
    if table:
        return table
    if stack:
        if cloudformation is None:
            raise InputError("a CloudFormation client is needed to read the stack", field="--stack")
        return stack_output(cloudformation, stack, TABLE_OUTPUT)
    name = (environ if environ is not None else os.environ).get(TABLE_ENV, "").strip()
    if name:
        return name
    raise InputError(
        "no results table configured",
        field="--table",
        hint=f"pass --table NAME or --stack NAME, or set {TABLE_ENV}; for the local demo add "
        "--endpoint-url http://127.0.0.1:PORT",
    )


def open_store(
    *,
    table: str | None,
    stack: str | None,
    region: str | None,
    endpoint_url: str | None,
    environ: Mapping[str, str] | None = None,
) -> tuple[ResultsStore, str]:
    """A ResultsStore on the configured table (the deployed stack's, or the local demo's), and its name."""
    from infercost.data.clients import new_client
    from infercost.data.store import ResultsStore

    def make(service: str) -> Any:
        return new_client(service, region=region, endpoint_url=endpoint_url or None)

    cloudformation = make("cloudformation") if stack and not table else None
    name = resolve_table_name(table=table, stack=stack, cloudformation=cloudformation, environ=environ)
    return ResultsStore(make("dynamodb"), name), name


def known_run_ids(store: ResultsStore) -> list[str]:
    """Run ids of the newest runs of each model (bounded), for suggestions."""
    ids: list[str] = []
    for model in store.list_models()[:SUGGEST_MODELS]:
        ids += [run.run_id for run in store.history(model, limit=SUGGEST_RUNS_PER_MODEL)]
    return ids


def find_run(store: ResultsStore, run_id: str, *, table_name: str) -> RunView:
    """One stored run with its candidates; a run that is not there is an error naming close ids."""
    view = store.get_run(run_id)
    if view is not None:
        return view
    ids = known_run_ids(store)
    close = difflib.get_close_matches(run_id, ids, n=3, cutoff=0.7)
    if close:
        hint = "closest run ids: " + ", ".join(close)
    elif ids:
        hint = "see `infercost history MODEL` for run ids"
    else:
        hint = "the table has no runs yet"
    raise InputError(f"no run {run_id!r} in table {table_name}", field="RUN_ID", hint=hint)


def model_history(store: ResultsStore, model: str, limit: int, *, table_name: str) -> list[RunRecord]:
    """A model's runs, newest first; a model without runs is an error naming the known models."""
    runs = store.history(model, limit=limit)
    if runs:
        return runs
    models = store.list_models()
    close = difflib.get_close_matches(model, models, n=3, cutoff=0.7)
    if close:
        hint = "did you mean " + ", ".join(close) + "?"
    elif models:
        hint = "models with runs: " + ", ".join(models[:SUGGEST_MODELS])
    else:
        hint = "the table has no runs yet"
    raise InputError(f"no runs recorded for model {model!r} in table {table_name}", field="MODEL", hint=hint)


def run_regressions(store: ResultsStore, run: RunRecord) -> list[dict[str, Any]] | list[Regression]:
    """The regressions recorded on the run, else computed against the previous successful run."""
    if run.regressions is not None:
        return run.regressions
    current = run.parsed_recommendation()
    if current is None or run.status != "SUCCEEDED":
        return []
    previous_run = store.previous_successful_run(run.model, run, current.slo)
    previous = previous_run.parsed_recommendation() if previous_run else None
    if previous is None:
        return []
    from infercost.domain.regression import detect_regressions

    return detect_regressions(current, previous)
