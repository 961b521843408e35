"""The results table's records: a run, its candidates, and the keys they are stored under.

Pure shapes (no AWS access): the store (infercost.data.store) writes and reads them; the report,
the CLI and the workflow's steps read them. docs/architecture.md, "Results table".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from infercost.domain.errors import InfercostError, InputError, from_validation_error
from infercost.domain.models import Candidate, Slo
from infercost.domain.results import CandidateResult, Recommendation

RunStatus = Literal["RUNNING", "SUCCEEDED", "FAILED"]
CandidateRecordStatus = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "SKIPPED"]

TERMINAL_RUN_STATUSES: tuple[RunStatus, ...] = ("SUCCEEDED", "FAILED")
TERMINAL_CANDIDATE_STATUSES: tuple[CandidateRecordStatus, ...] = ("COMPLETED", "FAILED", "SKIPPED")
# A candidate only moves forward: PENDING < RUNNING < any terminal status.
CANDIDATE_STATUS_RANK: dict[CandidateRecordStatus, int] = {
    "PENDING": 0,
    "RUNNING": 1,
    "COMPLETED": 2,
    "FAILED": 2,
    "SKIPPED": 2,
}

# Keys and ids end up inside sort keys separated by '#', so they may not contain one.
_KEY_PART = r"^[^#\s]+$"
# The tail of a container log is for a person to read in a report; a bounded tail keeps the
# candidate item far below DynamoDB's 400 KB item limit.
LOG_TAIL_MAX_LINES = 100
LOG_TAIL_MAX_LINE_CHARS = 1000


class StoreError(InfercostError):
    """A value the results table cannot hold, or a stored item that no longer parses."""


def iso_utc(moment: datetime | None = None) -> str:
    """The table's timestamp format: ISO-8601 UTC with milliseconds, '2024-05-01T12:00:00.123Z'."""
    moment = datetime.now(UTC) if moment is None else moment
    if moment.tzinfo is None:
        raise InputError("timestamp has no time zone", hint="give a UTC time, e.g. ending in Z")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _normalize_timestamp(value: Any) -> Any:
    """Accept a datetime or an ISO-8601 string with a zone; store it as `iso_utc` text."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("needs a time zone (UTC), e.g. 2024-05-01T12:00:00.000Z")
        return iso_utc(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"must be ISO-8601 UTC such as 2024-05-01T12:00:00.000Z, got {value!r}"
            ) from None
        if parsed.tzinfo is None:
            raise ValueError(f"needs a time zone (UTC), e.g. 2024-05-01T12:00:00.000Z, got {value!r}")
        return iso_utc(parsed)
    return value


class _Record(BaseModel):
    # Frozen like the other models; unknown attributes (written by a newer version) are ignored.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)


class RunKey(_Record):
    """What identifies a run item: its model and its start time and id (the sort key)."""

    model: str = Field(min_length=1, max_length=256, pattern=_KEY_PART)
    started_at: str
    run_id: str = Field(min_length=1, max_length=128, pattern=_KEY_PART)

    _started = field_validator("started_at", mode="before")(_normalize_timestamp)

    @property
    def pk(self) -> str:
        return model_pk(self.model)

    @property
    def sk(self) -> str:
        return run_sk(self.started_at, self.run_id)

    @property
    def key(self) -> RunKey:
        """Just the key (a RunRecord's key without its other fields)."""
        return RunKey(model=self.model, started_at=self.started_at, run_id=self.run_id)


class Artifact(_Record):
    """The model artifact a run evaluates (the S3 object that triggered it)."""

    bucket: str = Field(min_length=1)
    key: str = Field(min_length=1)
    version_id: str | None = None
    etag: str | None = None


class RunRecord(RunKey):
    """One evaluation of one model artifact. Fields left None are not stored."""

    status: RunStatus = "RUNNING"
    artifact: Artifact | None = None
    execution_arn: str | None = None
    region: str | None = None
    spec: dict[str, Any] | None = None
    slo: Slo | None = None
    finished_at: str | None = None
    timings: dict[str, float] | None = None
    endpoint_seconds: float | None = None
    benchmark_cost_usd: float | None = None
    recommendation: dict[str, Any] | None = None
    report_key: str | None = None
    regressions: list[dict[str, Any]] | None = None
    error: str | None = None
    # Set by Prepare when live prices were asked for and the snapshot priced the run instead.
    price_note: str | None = None
    # The traffic profile Prepare read from an endpoint's history (spec `traffic.endpoint`).
    traffic: dict[str, Any] | None = None
    # Why that history could not be read: the run goes on without a traffic profile.
    traffic_note: str | None = None

    _finished = field_validator("finished_at", mode="before")(_normalize_timestamp)

    @field_validator("recommendation", mode="before")
    @classmethod
    def _recommendation_json(cls, value: Any) -> Any:
        return value.model_dump() if isinstance(value, Recommendation) else value

    @field_validator("regressions", mode="before")
    @classmethod
    def _regressions_json(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [item.model_dump() if isinstance(item, BaseModel) else item for item in value]
        return value

    def parsed_recommendation(self) -> Recommendation | None:
        """The stored recommendation as the model the recommender produced (None when absent)."""
        if self.recommendation is None:
            return None
        try:
            return Recommendation.model_validate(self.recommendation)
        except ValidationError as error:
            problem = from_validation_error(error, prefix="recommendation").one_line()
            raise StoreError(
                f"the stored recommendation of run {self.run_id} does not parse: {problem}"
            ) from None


class CandidateRecord(_Record):
    """One candidate of a run: its configuration, where it is in its life, and what it measured.

    A write sets the fields that are not None and keeps the stored value of the others, so each
    step of the workflow writes only what it knows.
    """

    run_id: str = Field(min_length=1, max_length=128, pattern=_KEY_PART)
    index: int = Field(ge=0, le=99, description="0-based position in the spec")
    candidate: Candidate
    status: CandidateRecordStatus = "PENDING"
    endpoint_name: str | None = None
    image_uri: str | None = None
    error: str | None = None
    failure_reason: str | None = None
    log_tail: list[str] | None = None
    result: dict[str, Any] | None = None
    client_latency_ms: dict[str, Any] | None = None
    server_latency_ms: dict[str, Any] | None = None
    sweep: list[dict[str, Any]] | None = None
    endpoint_created_at: str | None = None
    endpoint_deleted_at: str | None = None
    endpoint_seconds: float | None = None
    benchmark_cost_usd: float | None = None
    updated_at: str | None = None
    expires_at: int | None = Field(default=None, description="TTL, epoch seconds; only for bulky raw data")

    _timestamps = field_validator("endpoint_created_at", "endpoint_deleted_at", "updated_at", mode="before")(
        _normalize_timestamp
    )

    @field_validator("error")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        # The error is shown in tables and messages: keep it to one line.
        return " ".join(value.split()) if value is not None else None

    @field_validator("log_tail", mode="before")
    @classmethod
    def _bounded_tail(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.splitlines()
        if isinstance(value, list):
            return [str(line)[:LOG_TAIL_MAX_LINE_CHARS] for line in value[-LOG_TAIL_MAX_LINES:]]
        return value

    @field_validator("result", mode="before")
    @classmethod
    def _result_json(cls, value: Any) -> Any:
        return value.model_dump() if isinstance(value, CandidateResult) else value

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_CANDIDATE_STATUSES

    def parsed_result(self) -> CandidateResult | None:
        """The stored result as a `CandidateResult` (None when the candidate measured nothing)."""
        if self.result is None:
            return None
        try:
            return CandidateResult.model_validate(self.result)
        except ValidationError as error:
            problem = from_validation_error(error, prefix="result").one_line()
            raise StoreError(
                f"the stored result of candidate {self.index} does not parse: {problem}"
            ) from None


class RunView(_Record):
    """A run with its candidates, sorted by their position in the spec."""

    run: RunRecord
    candidates: list[CandidateRecord]


# --- keys -------------------------------------------------------------------------------------


def model_pk(model: str) -> str:
    return f"MODEL#{model}"


def run_sk(started_at: str, run_id: str) -> str:
    """Sort key of a run item: 'RUN#<started_at>#<run_id>' (started_at as `iso_utc` text)."""
    return f"RUN#{started_at}#{run_id}"


def candidate_sk(started_at: str, run_id: str, index: int) -> str:
    """Sort key of a candidate item: the run's sort key + '#CANDIDATE#<nn>' (two digits)."""
    return f"{run_sk(started_at, run_id)}#CANDIDATE#{index:02d}"


def guard_key(bucket: str, key: str, version_id: str | None, etag: str | None) -> tuple[str, str]:
    """(PK, SK) of the trigger-guard item for one artifact version.

    The state machine writes this item itself, as its first state, with
    `ConditionExpression: attribute_not_exists(PK)`, so that a re-delivered S3 event fails the
    condition and starts no second run. Mirrored in ASL from the EventBridge event:

    - PK: `States.Format('ARTIFACT#{}/{}', $.detail.bucket.name, $.detail.object.key)`
    - SK: `States.Format('VERSION#{}', $.detail.object['version-id'])` when the event has a
      version id other than 'null' (a Choice: IsPresent and not StringEquals 'null'), else
      `States.Format('VERSION#{}', $.detail.object.etag)`.

    The key is used exactly as the event carries it. A version id of 'null' (a bucket without
    versioning) names no version, so the ETag stands in; quotes around an ETag (as HeadObject
    returns it) are dropped so that both sources give the same guard.
    """
    version = version_id if version_id and version_id != "null" else None
    tag = etag.strip('"') if etag else None
    identity = version or tag
    if not identity:
        raise InputError(
            f"artifact s3://{bucket}/{key} has neither a version id nor an ETag",
            field="artifact",
            hint="pass the version-id or etag from the S3 event",
        )
    return f"ARTIFACT#{bucket}/{key}", f"VERSION#{identity}"
