"""Tell the team what a run found: an SNS message (email-friendly plain text) and a Slack message.

Four kinds of message, decided by the run: `success` (a candidate is recommended),
`regression` (recommended, but something got worse since the previous run), `no_candidate`
(nothing meets the SLO) and `failed` (the run failed; the message carries the reason).

Slack is posted to an incoming webhook with the standard library (no SDK in the Lambda
package), with a timeout and one retry. A Slack failure is logged and returned in
`NotifyResult`, never raised: the SNS message has gone out and the run's outcome stands.
An SNS failure does raise, so the workflow's Retry can try again before anything reached Slack.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import BaseModel

from infercost.data import clients as aws
from infercost.domain.errors import InputError
from infercost.domain.formatting import usd
from infercost.report import RegressionLike, ReportInput

if TYPE_CHECKING:
    from infercost.domain.records import RunView

logger = logging.getLogger(__name__)

MessageKind = Literal["success", "regression", "no_candidate", "failed"]

# SNS: "Subjects must be ... less than 100 characters long"; non-ASCII subjects are
# rewritten by some SNS consumers, so the subject is kept to ASCII.
SNS_SUBJECT_MAX = 99
# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_TEXT_MAX = 3000
SLACK_FIELDS_MAX = 10
SLACK_FIELD_TEXT_MAX = 2000
SLACK_BUTTON_TEXT_MAX = 75
SLACK_URL_MAX = 3000
SLACK_FALLBACK_TEXT_MAX = 3000
# Pre-signed URLs signed with SigV4 live at most seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
# A pre-signed URL stops working when the credentials that signed it expire, whatever its own
# expiry (S3 User Guide, "Who can create a presigned URL"; Knowledge Center
# presigned-url-s3-bucket-expiration). The Notify Lambda signs with its role's temporary
# credentials, whose remaining lifetime AWS does not document ("services that assume a role,
# such as the AWS Lambda execution role, don't necessarily comply with the role's session
# duration settings"): the download link is short and says it may end sooner.
DOWNLOAD_LINK_SECONDS = 3600
DOWNLOAD_LINK_LIFETIME = "up to an hour"  # DOWNLOAD_LINK_SECONDS, as the messages say it
# Regions outside the standard partition have their consoles on other hosts (the same prefixes
# as infra/constructs/sagemaker_access.py); their messages carry no console link.
OTHER_PARTITION_PREFIXES = ("cn-", "us-gov-", "us-iso-", "us-isob-", "us-isof-", "eu-isoe-", "eusc-")
DEFAULT_SLACK_TIMEOUT_S = 5.0
RANKING_LINES = 10
SLACK_RANKING_LINES = 5
FAILURE_LINES = 10

_ASCII = str.maketrans(
    {"×": "x", "≤": "<=", "≥": ">=", "—": "-", "–": "-", "→": "->", "µ": "u", "…": "...", "’": "'"}
)
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class SnsMessage(BaseModel):
    """What is published to the topic: an ASCII subject and a plain-text body."""

    kind: MessageKind
    subject: str
    body: str


class ReportLinks(BaseModel):
    """Where a message sends its reader for the full report, each way with its true lifetime."""

    # The S3 console: needs a sign-in to the AWS account; the link itself never expires.
    console_url: str | None = None
    # `infercost report RUN_ID ...`: works as long as the run is in the results table.
    command: str | None = None
    # Pre-signed GET: anyone holding it, for DOWNLOAD_LINK_LIFETIME at most.
    download_url: str | None = None


class NotifyResult(BaseModel):
    """What went out: the SNS message id, and whether Slack got its message (and why not)."""

    kind: MessageKind
    sns_message_id: str | None = None
    slack_delivered: bool = False
    slack_error: str | None = None


def message_kind(report: ReportInput) -> MessageKind:
    """The kind of message a run calls for."""
    verdict = report.verdict
    if verdict == "failed":
        return "failed"
    if verdict == "none_meets_slo":
        return "no_candidate"
    return "regression" if report.regressions else "success"


def _as_report(
    run: RunView | ReportInput, regressions: Iterable[RegressionLike | Mapping[str, Any]] | None
) -> ReportInput:
    if isinstance(run, ReportInput):
        return run
    return ReportInput.from_run(run, regressions)


# --- SNS -------------------------------------------------------------------------------------


def build_sns_message(
    run: RunView | ReportInput,
    *,
    links: ReportLinks | None = None,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
) -> SnsMessage:
    """The SNS subject (model and verdict, ASCII, < 100 characters) and a plain-text body."""
    report = _as_report(run, regressions)
    kind = message_kind(report)
    return SnsMessage(kind=kind, subject=_subject(report, kind), body=_body(report, kind, links))


def ascii_subject(text: str, limit: int = SNS_SUBJECT_MAX) -> str:
    """One ASCII line of at most `limit` characters (longer text ends in '...')."""
    flat = " ".join(text.translate(_ASCII).split())
    flat = flat.encode("ascii", "replace").decode("ascii")
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _subject(report: ReportInput, kind: MessageKind) -> str:
    rec = report.recommendation
    prefix = f"infercost {report.model}: "
    if kind == "failed":
        reason = report.error or "no recommendation was produced"
        return ascii_subject(f"{prefix}run FAILED - {reason}")
    assert rec is not None
    if kind == "no_candidate":
        return ascii_subject(f"{prefix}no candidate meets {rec.slo.describe()}")
    winner = rec.recommended
    assert winner is not None
    figures = (
        f"({usd(winner.cost_per_100k_usd)}/100k, {rec.slo.percentile.upper()} {winner.slo_latency_ms:.1f} ms)"
    )
    if kind == "regression":
        count = len(report.regressions)
        noun = "regression" if count == 1 else "regressions"
        return ascii_subject(f"{prefix}{count} {noun} - use {winner.label} {figures}")
    return ascii_subject(f"{prefix}use {winner.label} {figures}")


def _body(report: ReportInput, kind: MessageKind, links: ReportLinks | None) -> str:
    rec = report.recommendation
    lines = [f"infercost evaluated {report.model}: {_verdict_text(report, kind)}", ""]
    if kind == "failed":
        lines += [f"Reason: {report.error or 'the run ended without a recommendation'}", ""]
    elif rec is not None:
        lines += [rec.reason, ""]
    lines += _context_lines(report)
    if report.simulated_note:
        lines += ["", f"Note: {report.simulated_note}"]
    if report.regressions:
        lines += ["", "Regressions since the previous run:"]
        lines += [f"  - {note.message}" for note in report.regressions]
    if rec is not None and rec.ranked:
        percentile = rec.slo.percentile.upper()
        lines += ["", f"Ranking, cheapest first ($ per 100k inferences, {percentile}):"]
        width = max(len(item.label) for item in rec.ranked[:RANKING_LINES])
        for item in rec.ranked[:RANKING_LINES]:
            verdict = "meets" if item.meets_slo else f"misses ({item.slo_verdict})"
            lines.append(
                f"  {item.rank:>2}. {item.label:<{width}}  {usd(item.cost_per_100k_usd):>9}  "
                f"{item.slo_latency_ms:>8.1f} ms  {verdict}"
            )
        if len(rec.ranked) > RANKING_LINES:
            lines.append(f"  ... and {len(rec.ranked) - RANKING_LINES} more in the report")
    if report.failures:
        lines += ["", f"Failed or skipped candidates ({len(report.failures)}):"]
        for failure in report.failures[:FAILURE_LINES]:
            text = f"  - {failure.label} {failure.status}: {failure.error}"
            if failure.failure_reason:
                text += f" (SageMaker: {failure.failure_reason})"
            lines.append(text)
        if len(report.failures) > FAILURE_LINES:
            lines.append(f"  ... and {len(report.failures) - FAILURE_LINES} more in the report")
    if report.benchmark is not None and report.benchmark.total_usd is not None:
        lines += ["", f"The benchmark itself cost {usd(report.benchmark.total_usd)}."]
    if links is not None:
        lines += _report_lines(links)
    return "\n".join(lines) + "\n"


def _report_lines(links: ReportLinks) -> list[str]:
    lines = ["", "Report:"]
    if links.console_url:
        lines += ["  In the S3 console (sign in to the AWS account; this link does not expire):"]
        lines += [f"  {links.console_url}"]
    if links.command:
        lines += [f"  From a terminal: {links.command}"]
    if links.download_url:
        lines += [f"  Direct download (a pre-signed link, valid for {DOWNLOAD_LINK_LIFETIME}):"]
        lines += [f"  {links.download_url}"]
    return lines if len(lines) > 2 else []


def _verdict_text(report: ReportInput, kind: MessageKind) -> str:
    rec = report.recommendation
    if kind == "failed":
        return "the run FAILED" if report.status == "FAILED" else "no recommendation was produced"
    assert rec is not None
    if kind == "no_candidate":
        return f"no candidate meets {rec.slo.describe()}"
    assert rec.recommended is not None
    text = f"use {rec.recommended.label}"
    return text + (" (with regressions)" if kind == "regression" else "")


def _context_lines(report: ReportInput) -> list[str]:
    parts = []
    if report.slo is not None:
        parts.append(f"SLO {report.slo.describe()}")
    if report.region:
        parts.append(f"region {report.region}")
    if report.run_id:
        parts.append(f"run {report.run_id} ({report.status})")
    lines = ["; ".join(parts)] if parts else []
    if report.artifact:
        lines.append(f"Artifact: {report.artifact}")
    return lines


# --- Slack -----------------------------------------------------------------------------------


def build_slack_payload(
    run: RunView | ReportInput,
    *,
    links: ReportLinks | None = None,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Block Kit message for an incoming webhook, within Slack's limits whatever the input."""
    report = _as_report(run, regressions)
    kind = message_kind(report)
    rec = report.recommendation
    icon = {"success": "✅", "regression": "⚠️", "no_candidate": "🟠", "failed": "❌"}[kind]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _cut(f"{icon} {report.model}: {_verdict_text(report, kind)}", SLACK_HEADER_MAX),
                "emoji": True,
            },
        }
    ]
    if kind == "failed":
        blocks.append(
            _section(f"*Reason:* {_escape(report.error or 'the run ended without a recommendation')}")
        )
    elif rec is not None:
        blocks.append(_section(_escape(rec.reason)))
    fields = _slack_fields(report)
    if fields:
        blocks.append({"type": "section", "fields": fields[:SLACK_FIELDS_MAX]})
    if report.regressions:
        items = "\n".join(f"• {_escape(note.message)}" for note in report.regressions)
        blocks.append(_section(f"*Regressions since the previous run*\n{items}"))
    if rec is not None and rec.ranked:
        lines = []
        for item in rec.ranked[:SLACK_RANKING_LINES]:
            mark = "✓" if item.meets_slo else "✗"
            lines.append(
                f"{item.rank}. {_escape(item.label)} — {usd(item.cost_per_100k_usd)}/100k, "
                f"{rec.slo.percentile.upper()} {item.slo_latency_ms:.1f} ms {mark}"
            )
        more = len(rec.ranked) - SLACK_RANKING_LINES
        if more > 0:
            lines.append(f"_… and {more} more in the report_")
        blocks.append(_section("*Cheapest candidates* (✓ meets the SLO)\n" + "\n".join(lines)))
    if report.failures:
        lines = [
            f"• {_escape(failure.label)} *{failure.status}*: {_escape(failure.error)}"
            for failure in report.failures[:SLACK_RANKING_LINES]
        ]
        more = len(report.failures) - SLACK_RANKING_LINES
        if more > 0:
            lines.append(f"_… and {more} more in the report_")
        blocks.append(_section(f"*Failed or skipped ({len(report.failures)})*\n" + "\n".join(lines)))
    if links is not None:
        blocks += _slack_report_blocks(links)
    context = [part for part in _context_lines(report) if part]
    if report.simulated_note:
        context.append("Hardware differences are simulated (local demo).")
    if context:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _cut(_escape(text), SLACK_FIELD_TEXT_MAX)}
                    for text in context[:10]
                ],
            }
        )
    subject = _subject(report, kind)
    return {"text": _cut(subject, SLACK_FALLBACK_TEXT_MAX), "blocks": blocks[:SLACK_MAX_BLOCKS]}


def _slack_report_blocks(links: ReportLinks) -> list[dict[str, Any]]:
    """What each way to the report needs and how long it works, then a button per link.

    A link too long for a button is left out: cut, it would lead nowhere.
    """
    lines: list[str] = []
    buttons: list[dict[str, Any]] = []
    if links.console_url and len(links.console_url) <= SLACK_URL_MAX:
        lines.append("• S3 console: sign in to the AWS account; this link does not expire")
        buttons.append(_button("Open in the S3 console", links.console_url, "open_report_console"))
    if links.download_url and len(links.download_url) <= SLACK_URL_MAX:
        lines.append(f"• Download: a pre-signed link, valid for {DOWNLOAD_LINK_LIFETIME}")
        buttons.append(
            _button(f"Download (valid for {DOWNLOAD_LINK_LIFETIME})", links.download_url, "download_report")
        )
    if links.command:
        lines.append(f"• From a terminal: `{_escape(links.command)}`")
    blocks: list[dict[str, Any]] = []
    if lines:
        blocks.append(_section("*Report*\n" + "\n".join(lines)))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return blocks


def _button(text: str, url: str, action_id: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": _cut(text, SLACK_BUTTON_TEXT_MAX)},
        "url": url,
        "action_id": action_id,
    }


def _slack_fields(report: ReportInput) -> list[dict[str, str]]:
    rec = report.recommendation
    pairs: list[tuple[str, str]] = []
    if report.slo is not None:
        pairs.append(("SLO", report.slo.describe()))
    if rec is not None and rec.recommended is not None:
        winner = rec.recommended
        pairs.append(("Cost per 100k", usd(winner.cost_per_100k_usd)))
        pairs.append((f"{rec.slo.percentile.upper()} latency", f"{winner.slo_latency_ms:,.1f} ms"))
        if winner.max_rps_at_slo is not None:
            pairs.append(("Max RPS at SLO", f"{winner.max_rps_at_slo:,.1f}"))
        if winner.monthly is not None:
            pairs.append(("Per month", usd(winner.monthly.monthly_cost_usd)))
    if rec is not None:
        measured = len(rec.ranked)
        passing = sum(1 for item in rec.ranked if item.meets_slo)
        pairs.append(
            ("Candidates", f"{passing} of {measured} meet the SLO, {len(report.failures)} not measured")
        )
    if report.benchmark is not None and report.benchmark.total_usd is not None:
        pairs.append(("Benchmark cost", usd(report.benchmark.total_usd)))
    return [
        {"type": "mrkdwn", "text": _cut(f"*{label}*\n{_escape(value)}", SLACK_FIELD_TEXT_MAX)}
        for label, value in pairs
    ]


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SLACK_SECTION_TEXT_MAX)}}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters: &, < and > must be entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_webhook_url(url: str) -> str:
    """The URL, if it may receive a webhook: https, or http to this machine (the local demo)."""
    parts = urlsplit(url.strip())
    if parts.scheme == "https" and parts.hostname:
        return url.strip()
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return url.strip()
    raise InputError(
        "the Slack webhook URL must be https:// (or http:// to 127.0.0.1 for the local demo)",
        field="slack_webhook_url",
        hint="store the incoming-webhook URL from Slack, https://hooks.slack.com/services/...",
    )


def post_slack(
    webhook_url: str,
    payload: Mapping[str, Any],
    *,
    timeout_s: float = DEFAULT_SLACK_TIMEOUT_S,
    retry_delay_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> str | None:
    """POST the payload; None when Slack accepted it, else why not. One retry, never raises.

    Retried: timeouts, refused connections, HTTP 429 and 5xx. Not retried: other 4xx
    (a bad payload or a revoked webhook will not get better).
    """
    try:
        url = check_webhook_url(webhook_url)
    except InputError as bad_url:
        return bad_url.one_line()
    data = json.dumps(payload).encode("utf-8")
    host = urlsplit(url).hostname
    error = ""
    for attempt in (1, 2):
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        retryable = True
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # scheme checked above
                response.read(1024)
                return None
        except urllib.error.HTTPError as failure:
            body = failure.read(200).decode("utf-8", "replace").strip()
            error = f"Slack answered HTTP {failure.code}" + (f" ({body})" if body else "")
            retryable = failure.code == 429 or failure.code >= 500
        except urllib.error.URLError as failure:
            error = f"could not reach {host}: {failure.reason}"
        except TimeoutError:
            error = f"no answer from {host} within {timeout_s:g} s"
        except OSError as failure:
            error = f"could not reach {host}: {failure}"
        # The URL is a secret: log the host only.
        logger.warning("Slack notification attempt %d failed: %s", attempt, error)
        if not retryable or attempt == 2:
            break
        sleep(retry_delay_s)
    return error


# --- the run ---------------------------------------------------------------------------------


def notify_run(
    run: RunView | ReportInput,
    *,
    sns_client: Any,
    topic_arn: str,
    slack_webhook_url: str | None,
    links: ReportLinks | None,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
    slack_timeout_s: float = DEFAULT_SLACK_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> NotifyResult:
    """Publish the run's message to SNS, then post it to Slack when a webhook is configured."""
    report = _as_report(run, regressions)
    message = build_sns_message(report, links=links)
    response = sns_client.publish(
        TopicArn=topic_arn,
        Subject=message.subject,
        Message=message.body,
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": message.kind},
            "model": {"DataType": "String", "StringValue": report.model},
        },
    )
    result = NotifyResult(kind=message.kind, sns_message_id=response.get("MessageId"))
    if not slack_webhook_url:
        return result
    payload = build_slack_payload(report, links=links)
    error = post_slack(slack_webhook_url, payload, timeout_s=slack_timeout_s, sleep=sleep)
    return result.model_copy(update={"slack_delivered": error is None, "slack_error": error})


def slack_webhook_from_secret(secrets_client: Any, secret_id: str) -> str | None:
    """The webhook URL stored in Secrets Manager, or None (logged) when unset or unreadable.

    The secret holds the URL itself or JSON with a `webhook_url` key. An unreadable secret
    never fails a run: Slack is skipped and the reason logged.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        text = secrets_client.get_secret_value(SecretId=secret_id).get("SecretString") or ""
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        logger.warning("Slack webhook secret %s is not readable (%s); Slack skipped", secret_id, code)
        return None
    except BotoCoreError as error:
        logger.warning("Slack webhook secret %s is not readable (%s); Slack skipped", secret_id, error)
        return None
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = {}
        text = str(data.get("webhook_url") or data.get("url") or "").strip() if isinstance(data, dict) else ""
    if not text.startswith(("https://", "http://")):
        if text:
            logger.warning("Slack webhook secret %s holds no URL; Slack skipped", secret_id)
        return None
    return text


def report_s3_client(region: str | None = None, *, endpoint_url: str | None = None) -> Any:
    """An S3 client whose pre-signed URLs are SigV4 on the regional host, as `presign_report` needs.

    boto3's default S3 client still pre-signs with the legacy SigV2 query string, and the global
    host can redirect a browser to the regional one, which breaks a SigV4 signature.
    """
    import boto3
    from botocore.config import Config

    # A custom endpoint (the local demo's moto server) is an IP address: path-style there.
    addressing = "path" if endpoint_url else "virtual"
    config = Config(signature_version="s3v4", s3={"addressing_style": addressing})
    # Watched like the handlers' other clients: the link's GET is allowed by this role's grants.
    return aws.watched(boto3.client("s3", region_name=region, endpoint_url=endpoint_url, config=config))


def presign_report(s3_client: Any, bucket: str, key: str, expires_s: int = DOWNLOAD_LINK_SECONDS) -> str:
    """A SigV4 pre-signed GET URL of the report, valid for `expires_s` seconds (at most 7 days).

    Create the client with `report_s3_client`. A URL signed with temporary credentials (a
    Lambda role) stops working when those credentials expire, which may be before `expires_s`.
    """
    if not 1 <= expires_s <= MAX_PRESIGN_SECONDS:
        raise InputError(
            f"must be between 1 and {MAX_PRESIGN_SECONDS} seconds (7 days, the SigV4 maximum), "
            f"got {expires_s}",
            field="expires_s",
        )
    url: str = s3_client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_s
    )
    if "X-Amz-Algorithm=AWS4-HMAC-SHA256" not in url:
        raise InputError(
            "the S3 client pre-signs with the legacy SigV2, whose links are not bounded to 7 days",
            field="s3_client",
            hint="create it with infercost.notify.report_s3_client(region)",
        )
    return url


def report_console_url(region: str, bucket: str, key: str) -> str | None:
    """The report object in the S3 console (None outside the standard partition)."""
    if region.startswith(OTHER_PARTITION_PREFIXES):
        return None
    return (
        f"https://{region}.console.aws.amazon.com/s3/object/{bucket}"
        f"?region={region}&prefix={quote(key, safe='/')}"
    )


def report_command(run_id: str, *, table: str, region: str) -> str:
    """The `infercost report` command that writes the run's report from the results table."""
    arguments = [run_id, "--table", table, "--region", region, "--out", "report.html"]
    return "infercost report " + " ".join(shlex.quote(argument) for argument in arguments)


def report_links(
    *,
    run_id: str,
    bucket: str,
    key: str,
    region: str,
    table: str,
    s3_client: Any | None,
    in_aws_account: bool = True,
) -> ReportLinks:
    """The ways to the report: console and command (in an AWS account), download (with a client)."""
    return ReportLinks(
        console_url=report_console_url(region, bucket, key) if in_aws_account else None,
        command=report_command(run_id, table=table, region=region) if in_aws_account else None,
        download_url=presign_report(s3_client, bucket, key) if s3_client is not None else None,
    )
