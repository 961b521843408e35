"""The results table (docs/architecture.md, "Results table"): runs, candidates, history queries.

One DynamoDB table holds every item:

- run: `PK=MODEL#<model>`, `SK=RUN#<started_at>#<run_id>`
- candidate: `PK=MODEL#<model>`, `SK=RUN#<started_at>#<run_id>#CANDIDATE#<nn>`
- trigger guard (written by the state machine itself, see `guard_key`):
  `PK=ARTIFACT#<bucket>/<key>`, `SK=VERSION#<version id or etag>`
- model registry: `PK=MODELS`, `SK=MODEL#<model>` (one per model, makes `list_models` a Query)

Run and candidate items carry `run_id` (partition key of the `by-run` index) and `item_type`.
Because a run's started_at comes first in its sort key, a model's runs sort oldest to newest and
each run's candidates sort directly after it.

Writes are conditional so that a retried or late Lambda never duplicates an item nor replaces a
newer state with an older one. The store takes a low-level boto3 DynamoDB client; create it with
`infercost.data.clients` (standard retries), so that throttling
(`ProvisionedThroughputExceededException`, `ThrottlingException`) is retried with backoff. A failed condition is an answer, not an error: it is never retried and the write
methods return False.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from infercost.domain.errors import InputError, from_validation_error
from infercost.domain.models import Slo
from infercost.domain.records import (
    CANDIDATE_STATUS_RANK,
    TERMINAL_RUN_STATUSES,
    CandidateRecord,
    RunKey,
    RunRecord,
    RunStatus,
    RunView,
    StoreError,
    candidate_sk,
    iso_utc,
    model_pk,
)
from infercost.domain.results import Recommendation

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
else:
    DynamoDBClient = Any

BY_RUN_INDEX = "by-run"
# A sparse index of the runs still RUNNING: the attribute exists only until the run finishes, so
# the janitor finds runs whose execution ended without recording, without scanning the table.
OPEN_RUNS_INDEX = "open-runs"
OPEN_RUN_ATTRIBUTE = "open_run"
TTL_ATTRIBUTE = "expires_at"
MODELS_PK = "MODELS"

# DynamoDB numbers: 38 significant digits, magnitude between 1e-130 and 1e126.
_MAX_DIGITS = 38
_MIN_EXPONENT = -130
_MAX_EXPONENT = 125


# --- attribute values -------------------------------------------------------------------------


def _number(value: int | float | Decimal, path: str) -> str:
    if isinstance(value, float | Decimal) and not math.isfinite(value):
        raise StoreError(
            f"{value} cannot be stored: DynamoDB holds finite numbers only",
            field=path,
            hint="store null for an unknown value",
        )
    # str() of a float is its shortest exact representation, so Decimal(str(x)) round-trips.
    text = str(value)
    decimal = Decimal(text)
    significant = "".join(map(str, decimal.as_tuple().digits)).strip("0")
    if decimal != 0 and (
        len(significant) > _MAX_DIGITS or not _MIN_EXPONENT <= decimal.adjusted() <= _MAX_EXPONENT
    ):
        raise StoreError(
            f"{text} is outside what DynamoDB stores (38 digits, magnitude 1e-130 to 1e125)",
            field=path,
        )
    return text


def _checked(value: Any, path: str) -> Any:
    """`value` with its numbers checked against DynamoDB's range, naming the path of a bad one."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        _number(value, path)
        return value
    if isinstance(value, Mapping):
        return {str(k): _checked(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_checked(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise StoreError(
        f"a {type(value).__name__} cannot be stored", field=path, hint="convert it to JSON types"
    )


def _serializer() -> Any:
    from boto3.dynamodb.types import TypeSerializer

    class FloatsAsWritten(TypeSerializer):
        """boto3's serializer, taking floats too, written as Python's shortest exact text
        (str(0.1) == '0.1'), so that they come back as the very same float."""

        def _is_number(self, value: Any) -> bool:
            return isinstance(value, int | float | Decimal) and not isinstance(value, bool)

        def _serialize_n(self, value: Any) -> str:
            return str(value)

    return FloatsAsWritten()


def to_attribute(value: Any, path: str = "value") -> dict[str, Any]:
    """A JSON-like Python value (dict, list, str, int, float, bool, None) as an AttributeValue."""
    attribute: dict[str, Any] = _serializer().serialize(_checked(value, path))
    return attribute


def _plain(value: Any) -> Any:
    """TypeDeserializer's output as plain JSON-like Python: lists for sets, bytes for binary."""
    from boto3.dynamodb.types import Binary

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(v) for v in value)
    if isinstance(value, Binary):
        return bytes(value.value)
    return value


def _parse_number(text: str) -> int | float:
    # DynamoDB gives numbers as text; one without a point or exponent was stored as an int.
    return float(text) if any(c in text for c in ".eE") else int(text)


def _deserializer() -> Any:
    from boto3.dynamodb.types import TypeDeserializer

    class NumbersAsStored(TypeDeserializer):
        """boto3's deserializer, with numbers as int or float (as written) instead of Decimal."""

        def _deserialize_n(self, value: str) -> int | float:
            return _parse_number(value)

    return NumbersAsStored()


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """A DynamoDB AttributeValue as a Python value; numbers come back as int or float."""
    try:
        return _plain(_deserializer().deserialize(dict(attribute)))
    except TypeError as error:
        raise StoreError(f"unknown DynamoDB attribute type: {error}") from None


def to_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A dict of attributes as a DynamoDB item; None values are left out."""
    return {name: to_attribute(value, name) for name, value in values.items() if value is not None}


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {name: from_attribute(value) for name, value in item.items()}


# --- table ------------------------------------------------------------------------------------


def table_definition(table_name: str | None = None) -> dict[str, Any]:
    """The `CreateTable` arguments of the results table; the CDK stack and the demo use the same."""
    definition: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
            {"AttributeName": "run_id", "AttributeType": "S"},
            {"AttributeName": OPEN_RUN_ATTRIBUTE, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": BY_RUN_INDEX,
                "KeySchema": [
                    {"AttributeName": "run_id", "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": OPEN_RUNS_INDEX,
                "KeySchema": [
                    {"AttributeName": OPEN_RUN_ATTRIBUTE, "KeyType": "HASH"},
                    {"AttributeName": "SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if table_name is not None:
        definition["TableName"] = table_name
    return definition


def create_table(client: DynamoDBClient, table_name: str) -> None:
    """Create the results table with its index and TTL (tests and the local demo)."""
    client.create_table(**table_definition(table_name))
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )


# --- store ------------------------------------------------------------------------------------

_RUN_FIELDS_FIXED = frozenset({"model", "started_at", "run_id", "status"})


class _Update:
    """Builds an UpdateExpression with a placeholder for every name (many are reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, dict[str, Any]] = {}
        self.assignments: list[str] = []
        self.removals: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f"#n{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any, path: str) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_attribute(value, path)
        return placeholder

    def set(self, attribute: str, value: Any) -> None:
        self.assignments.append(f"{self.name(attribute)} = {self.value(value, attribute)}")

    def remove(self, attribute: str) -> None:
        self.removals.append(self.name(attribute))

    def expression(self) -> str:
        text = "SET " + ", ".join(self.assignments)
        return text + (" REMOVE " + ", ".join(self.removals) if self.removals else "")


class ResultsStore:
    """Runs and candidates of the results table, written idempotently, read newest first."""

    def __init__(self, client: DynamoDBClient, table_name: str, *, page_size: int | None = None):
        """`page_size` caps items per Query page (None: DynamoDB's 1 MB pages), for tests."""
        self._client = client
        self._table = table_name
        self._page_size = page_size

    # --- writes -------------------------------------------------------------------------------

    def create_run(self, run: RunRecord) -> bool:
        """Write a new run item; False (and nothing changed) when the run already exists."""
        item = self._run_item(run.model_dump())
        if run.status == "RUNNING":
            item[OPEN_RUN_ATTRIBUTE] = {"S": "RUNNING"}
        created = self._conditional(
            "put_item",
            Item=item,
            ConditionExpression="attribute_not_exists(PK)",
        )
        # The registry entry is idempotent, and also written on a retry whose first try may
        # have stopped between the two writes.
        self._client.put_item(
            TableName=self._table,
            Item=to_item(
                {
                    "PK": MODELS_PK,
                    "SK": model_pk(run.model),
                    "item_type": "model",
                    "model": run.model,
                }
            ),
        )
        return created

    def put_candidate(self, run: RunRecord | RunKey, record: CandidateRecord) -> bool:
        """Create or advance a candidate item; False when the stored state is already further along.

        Applied when the item is new, the stored status ranks lower (PENDING < RUNNING <
        terminal), or the stored status is the same (a retry). The first terminal status wins.
        Fields left None keep their stored values.
        """
        key = run.key
        if record.run_id != key.run_id:
            raise InputError(
                f"candidate belongs to run {record.run_id!r}, not {key.run_id!r}", field="run_id"
            )
        if record.updated_at is None:
            record = record.model_copy(update={"updated_at": iso_utc()})
        rank = CANDIDATE_STATUS_RANK[record.status]
        allowed = sorted({s for s, r in CANDIDATE_STATUS_RANK.items() if r < rank} | {record.status})
        update = _Update()
        fields = record.model_dump(exclude_none=True)
        fields.update(item_type="candidate", model=key.model, started_at=key.started_at)
        for name, value in fields.items():
            update.set(name, value)
        status = update.name("status")
        choices = ", ".join(update.value(s, "status") for s in allowed)
        return self._conditional(
            "update_item",
            Key=to_item({"PK": key.pk, "SK": candidate_sk(key.started_at, key.run_id, record.index)}),
            UpdateExpression=update.expression(),
            ConditionExpression=f"attribute_not_exists(PK) OR {status} IN ({choices})",
            ExpressionAttributeNames=update.names,
            ExpressionAttributeValues=update.values,
        )

    def finish_run(
        self,
        key: RunRecord | RunKey,
        *,
        status: RunStatus,
        finished_at: str | datetime,
        recommendation: Recommendation | dict[str, Any] | None = None,
        error: str | None = None,
        benchmark_cost_usd: float | None = None,
        endpoint_seconds: float | None = None,
        report_key: str | None = None,
        regressions: list[Any] | None = None,
        timings: dict[str, float] | None = None,
    ) -> bool:
        """Move a RUNNING run to SUCCEEDED or FAILED; False when missing or already the other one.

        Repeating the same terminal status is applied again (a retry); a FAILED run never becomes
        SUCCEEDED, nor the reverse.
        """
        if status not in TERMINAL_RUN_STATUSES:
            raise InputError(f"a run finishes as SUCCEEDED or FAILED, got {status!r}", field="status")
        run_key = key.key
        fields = self._validated_run_fields(
            run_key,
            {
                "finished_at": finished_at,
                "recommendation": recommendation,
                "error": error,
                "benchmark_cost_usd": benchmark_cost_usd,
                "endpoint_seconds": endpoint_seconds,
                "report_key": report_key,
                "regressions": regressions,
                "timings": timings,
            },
        )
        update = _Update()
        update.set("status", status)
        for name, value in fields.items():
            update.set(name, value)
        update.remove(OPEN_RUN_ATTRIBUTE)
        status_name = update.name("status")
        running = update.value("RUNNING", "status")
        same = update.value(status, "status")
        return self._conditional(
            "update_item",
            Key=to_item({"PK": run_key.pk, "SK": run_key.sk}),
            UpdateExpression=update.expression(),
            ConditionExpression=f"attribute_exists(PK) AND {status_name} IN ({running}, {same})",
            ExpressionAttributeNames=update.names,
            ExpressionAttributeValues=update.values,
        )

    def update_run(self, key: RunRecord | RunKey, **fields: Any) -> bool:
        """Set non-status fields of a run (report_key, regressions, ...); False if it is missing."""
        fixed = sorted(_RUN_FIELDS_FIXED.intersection(fields))
        if fixed:
            raise InputError(
                f"update_run cannot change {', '.join(fixed)}",
                field=fixed[0],
                hint="use finish_run for the status; the key fields never change",
            )
        run_key = key.key
        values = self._validated_run_fields(run_key, fields)
        if not values:
            return False
        update = _Update()
        for name, value in values.items():
            update.set(name, value)
        return self._conditional(
            "update_item",
            Key=to_item({"PK": run_key.pk, "SK": run_key.sk}),
            UpdateExpression=update.expression(),
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames=update.names,
            ExpressionAttributeValues=update.values,
        )

    # --- reads --------------------------------------------------------------------------------

    def get_run(self, run_id: str) -> RunView | None:
        """A run and its candidates by run id (via the `by-run` index, eventually consistent)."""
        items = list(
            self._query(
                IndexName=BY_RUN_INDEX,
                KeyConditionExpression="#r = :r",
                ExpressionAttributeNames={"#r": "run_id"},
                ExpressionAttributeValues={":r": {"S": run_id}},
            )
        )
        return self._view(items)

    def get_run_by_key(self, key: RunRecord | RunKey) -> RunView | None:
        """A run and its candidates by key, with a strongly consistent read of the table."""
        run_key = key.key
        items = self._query(
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": run_key.pk},
                ":lo": {"S": run_key.sk},
                ":hi": {"S": candidate_sk(run_key.started_at, run_key.run_id, 99)},
            },
            ConsistentRead=True,
        )
        prefix = run_key.sk + "#CANDIDATE#"
        return self._view([i for i in items if i["SK"] == run_key.sk or i["SK"].startswith(prefix)])

    def open_runs(self) -> list[RunRecord]:
        """Every run still RUNNING, oldest first (the sparse `open-runs` index)."""
        items = self._query(
            IndexName=OPEN_RUNS_INDEX,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": OPEN_RUN_ATTRIBUTE},
            ExpressionAttributeValues={":o": {"S": "RUNNING"}},
        )
        return [_parse(RunRecord, item) for item in items if item.get("item_type") == "run"]

    def history(self, model: str, limit: int = 20) -> list[RunRecord]:
        """The model's runs, newest first, at most `limit`."""
        if limit < 1:
            raise InputError(f"must be at least 1, got {limit}", field="limit")
        runs: list[RunRecord] = []
        for run in self._runs(model):
            runs.append(run)
            if len(runs) >= limit:
                break
        return runs

    def previous_successful_run(self, model: str, before: RunRecord | RunKey, slo: Slo) -> RunRecord | None:
        """The newest SUCCEEDED run of the model older than `before` whose SLO equals `slo`."""
        key = before.key
        for run in self._runs(model, succeeded_only=True, below_sk=key.sk):
            if run.slo == slo:
                return run
        return None

    def list_models(self) -> list[str]:
        """Every model that has at least one run, sorted by name (one Query on the registry)."""
        items = self._query(
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": MODELS_PK}},
        )
        return sorted(str(item["model"]) for item in items)

    # --- internals ----------------------------------------------------------------------------

    def _runs(
        self, model: str, *, succeeded_only: bool = False, below_sk: str | None = None
    ) -> Iterator[RunRecord]:
        # Candidate items share the partition and sort between runs; the filter drops them,
        # which is why a page may hold fewer runs than it read and pagination must continue.
        values: dict[str, dict[str, Any]] = {
            ":pk": {"S": model_pk(model)},
            ":run": {"S": "run"},
        }
        if below_sk is None:
            condition = "PK = :pk AND begins_with(SK, :prefix)"
            values[":prefix"] = {"S": "RUN#"}
        else:
            condition = "PK = :pk AND SK BETWEEN :prefix AND :below"
            values[":prefix"] = {"S": "RUN#"}
            # BETWEEN is inclusive; the run `below_sk` itself is dropped below.
            values[":below"] = {"S": below_sk}
        filters = "item_type = :run"
        names: dict[str, str] = {}
        if succeeded_only:
            filters += " AND #s = :ok"
            names["#s"] = "status"
            values[":ok"] = {"S": "SUCCEEDED"}
        query: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "FilterExpression": filters,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if names:
            query["ExpressionAttributeNames"] = names
        for item in self._query(**query):
            if item["SK"] != below_sk:
                yield _parse(RunRecord, item)

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of a Query, through botocore's paginator, as plain Python values."""
        config = {"PageSize": self._page_size} if self._page_size is not None else {}
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table, **kwargs, PaginationConfig=config
        )
        for page in pages:
            for item in page.get("Items", []):
                yield from_item(item)

    def _view(self, items: list[dict[str, Any]]) -> RunView | None:
        runs = [item for item in items if item.get("item_type") == "run"]
        if not runs:
            return None
        run = _parse(RunRecord, runs[0])
        candidates = [
            _parse(CandidateRecord, item)
            for item in items
            if item.get("item_type") == "candidate" and item["SK"].startswith(run.key.sk + "#")
        ]
        return RunView(run=run, candidates=sorted(candidates, key=lambda c: c.index))

    def _run_item(self, fields: dict[str, Any]) -> dict[str, dict[str, Any]]:
        key = RunKey(model=fields["model"], started_at=fields["started_at"], run_id=fields["run_id"])
        return to_item({"PK": key.pk, "SK": key.sk, "item_type": "run", **fields})

    def _validated_run_fields(self, key: RunKey, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Validate fields as the record declares them; the JSON form of those that are not None."""
        unknown = sorted(set(fields) - set(RunRecord.model_fields))
        if unknown:
            raise InputError(
                f"a run has no field {unknown[0]!r}",
                field=unknown[0],
                hint=f"one of {', '.join(sorted(set(RunRecord.model_fields) - _RUN_FIELDS_FIXED))}",
            )
        given = {name: value for name, value in fields.items() if value is not None}
        try:
            record = RunRecord.model_validate({**key.model_dump(), **given})
        except ValidationError as error:
            raise from_validation_error(error) from None
        return record.model_dump(include=set(given))

    def _conditional(self, operation: str, **kwargs: Any) -> bool:
        """Run a conditional write; True when applied, False when its condition did not hold."""
        failed = self._client.exceptions.ConditionalCheckFailedException
        try:
            getattr(self._client, operation)(TableName=self._table, **kwargs)
        except failed:
            return False
        return True


def _parse(model: type[RunRecord] | type[CandidateRecord], item: dict[str, Any]) -> Any:
    try:
        return model.model_validate(item)
    except ValidationError as error:
        raise StoreError(
            f"stored item {item.get('PK')} / {item.get('SK')} does not parse as a "
            f"{model.__name__}: {error.errors(include_url=False)[0]['msg']}"
        ) from None
