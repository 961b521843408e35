"""What a run's notification says: the SNS message and the Slack Block Kit payload, within each
service's documented limits, and the ways to the report it links."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel

from infercost.domain.formatting import ESTIMATE_FOOTNOTE, estimated, usd
from infercost.domain.price_basis import is_estimate
from infercost.domain.results import LatencyStats
from infercost.report.inputs import RegressionLike, ReportInput

if TYPE_CHECKING:
    from infercost.domain.records import RunView
    from infercost.domain.results import RankedCandidate, Recommendation


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


DOWNLOAD_LINK_LIFETIME = "up to an hour"  # DOWNLOAD_LINK_SECONDS, as the messages say it


# Regions outside the standard partition have their consoles on other hosts (the same prefixes
# as infra/constructs/sagemaker_access.py); their messages carry no console link.
OTHER_PARTITION_PREFIXES = ("cn-", "us-gov-", "us-iso-", "us-isob-", "us-isof-", "eu-isoe-", "eusc-")


RANKING_LINES = 10


SLACK_RANKING_LINES = 5


FAILURE_LINES = 10


_ASCII = str.maketrans(
    {
        "×": "x",
        "≤": "<=",
        "≥": ">=",
        "—": "-",
        "–": "-",
        "→": "->",
        "µ": "u",
        "…": "...",
        "’": "'",
        "≈": "~",
    }
)


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


def message_kind(report: ReportInput) -> MessageKind:
    """The kind of message a run calls for."""
    verdict = report.verdict
    if verdict == "failed":
        return "failed"
    if verdict == "none_meets_slo":
        return "no_candidate"
    return "regression" if report.regressions else "success"


def as_report(
    run: RunView | ReportInput, regressions: Iterable[RegressionLike | Mapping[str, Any]] | None
) -> ReportInput:
    if isinstance(run, ReportInput):
        return run
    return ReportInput.from_run(run, regressions)


def build_sns_message(
    run: RunView | ReportInput,
    *,
    links: ReportLinks | None = None,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
) -> SnsMessage:
    """The SNS subject (model and verdict, ASCII, < 100 characters) and a plain-text body."""
    report = as_report(run, regressions)
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
        unsure = _uncertain(rec)
        if unsure is not None:
            return ascii_subject(f"{prefix}uncertain - {unsure.label} might meet {rec.slo.describe()}")
        return ascii_subject(f"{prefix}no candidate meets {rec.slo.describe()}")
    winner = rec.recommended
    assert winner is not None
    cost = estimated(usd(winner.cost_per_100k_usd), is_estimate(winner.price_basis))
    figures = f"({cost}/100k, {rec.slo.percentile.upper()} {winner.slo_latency_ms:.1f} ms)"
    if rec.serving is not None and rec.serving.monthly_cost_usd is not None:
        month = estimated(usd(rec.serving.monthly_cost_usd), rec.serving.estimate)
        figures = f"({rec.serving.mode}, {month}/month, {rec.slo.percentile.upper()} {winner.slo_latency_ms:.1f} ms)"
    if winner.llm is not None and winner.cost_per_1m_output_tokens_usd is not None:
        per_1m = estimated(usd(winner.cost_per_1m_output_tokens_usd), is_estimate(winner.price_basis))
        ttft = winner.llm.ttft_ms.p90 if winner.llm.ttft_ms.p90 is not None else winner.llm.ttft_ms.avg
        figures = f"({per_1m}/1M output tokens, TTFT P90 {ttft:.1f} ms)"
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
        for note in price_notes(rec):
            lines += [note, ""]
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
            verdict = "meets" if item.meets_slo else f"{item.slo_status} ({item.slo_verdict})"
            lines.append(
                f"  {item.rank:>2}. {item.label:<{width}}  {_cost(item):>11}  "
                f"{item.slo_latency_ms:>8.1f} ms  {verdict}"
            )
        if len(rec.ranked) > RANKING_LINES:
            lines.append(f"  ... and {len(rec.ranked) - RANKING_LINES} more in the report")
        if any(is_estimate(item.price_basis) for item in rec.ranked[:RANKING_LINES]):
            lines.append(f"  {ESTIMATE_FOOTNOTE}")
        lines += token_lines(rec.ranked[:RANKING_LINES])
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


def token_lines(ranked: Sequence[RankedCandidate]) -> list[str]:
    """The streamed (LLM) candidates' token figures, one line each (docs/method.md §9)."""
    streamed = [item for item in ranked if item.llm is not None]
    if not streamed:
        return []
    width = max(len(item.label) for item in streamed)
    lines = [
        "",
        "Tokens (P90 time to first token, P90 inter-token latency, goodput, $ per 1M output tokens):",
    ]
    for item in streamed:
        assert item.llm is not None
        lines.append(
            f"  {item.label:<{width}}  TTFT {_p90(item.llm.ttft_ms)}  ITL {_p90(item.llm.itl_ms)}  "
            f"{item.llm.output_tokens_per_s:,.1f} tok/s  {usd(item.cost_per_1m_output_tokens_usd)}/1M"
        )
    return lines


def _p90(stats: LatencyStats) -> str:
    return f"{stats.p90 if stats.p90 is not None else stats.avg:,.1f} ms"


def price_notes(rec: Recommendation) -> list[str]:
    """What a message says about prices: the run fell back to the snapshot, the recommended
    candidate's price is an estimate."""
    notes = [f"Note: {rec.price_note}."] if rec.price_note else []
    winner = rec.recommended
    if winner is None or not is_estimate(winner.price_basis):
        return notes
    price = "per use" if winner.price_per_hour_usd is None else f"{usd(winner.price_per_hour_usd)}/h"
    return [
        *notes,
        f"Price estimate: the price of {winner.label} ({price}) is derived from another region's or "
        "instance family's price, not published for it, so its costs are estimates too; check it "
        "with the live Price List API or a price overrides file.",
    ]


def _cost(item: RankedCandidate) -> str:
    return estimated(usd(item.cost_per_100k_usd), is_estimate(item.price_basis))


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


_MARKS = {"meets": "✓", "uncertain": "?", "misses": "✗"}


def _uncertain(rec: Recommendation) -> RankedCandidate | None:
    """The cheapest candidate whose interval straddles the SLO (nothing is recommended then)."""
    return next((item for item in rec.ranked if item.slo_status == "uncertain"), None)


def _verdict_text(report: ReportInput, kind: MessageKind) -> str:
    rec = report.recommendation
    if kind == "failed":
        return "the run FAILED" if report.status == "FAILED" else "no recommendation was produced"
    assert rec is not None
    if kind == "no_candidate":
        unsure = _uncertain(rec)
        if unsure is not None:
            return f"uncertain: no candidate is sure to meet {rec.slo.describe()}; {unsure.label} might"
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


def build_slack_payload(
    run: RunView | ReportInput,
    *,
    links: ReportLinks | None = None,
    regressions: Iterable[RegressionLike | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Block Kit message for an incoming webhook, within Slack's limits whatever the input."""
    report = as_report(run, regressions)
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
        blocks += [_section(f"*{_escape(note)}*") for note in price_notes(rec)]
    fields = _slack_fields(report)
    if fields:
        blocks.append({"type": "section", "fields": fields[:SLACK_FIELDS_MAX]})
    if report.regressions:
        items = "\n".join(f"• {_escape(note.message)}" for note in report.regressions)
        blocks.append(_section(f"*Regressions since the previous run*\n{items}"))
    if rec is not None and rec.ranked:
        lines = []
        for item in rec.ranked[:SLACK_RANKING_LINES]:
            mark = _MARKS[item.slo_status]
            lines.append(
                f"{item.rank}. {_escape(item.label)} — {_cost(item)}/100k, "
                f"{rec.slo.percentile.upper()} {item.slo_latency_ms:.1f} ms {mark}"
            )
        more = len(rec.ranked) - SLACK_RANKING_LINES
        if more > 0:
            lines.append(f"_… and {more} more in the report_")
        if any(is_estimate(item.price_basis) for item in rec.ranked[:SLACK_RANKING_LINES]):
            lines.append(f"_{_escape(ESTIMATE_FOOTNOTE)}_")
        legend = "✓ meets the SLO, ? uncertain" if "?" in "".join(lines) else "✓ meets the SLO"
        blocks.append(_section(f"*Cheapest candidates* ({legend})\n" + "\n".join(lines)))
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
        pairs.append(("Cost per 100k", _cost(winner)))
        pairs.append((f"{rec.slo.percentile.upper()} latency", f"{winner.slo_latency_ms:,.1f} ms"))
        if winner.max_rps_at_slo is not None:
            pairs.append(("Max RPS at SLO", f"{winner.max_rps_at_slo:,.1f}"))
        if rec.serving is not None and rec.serving.monthly_cost_usd is not None:
            month = estimated(usd(rec.serving.monthly_cost_usd), rec.serving.estimate)
            pairs.append(("Serve as", f"{rec.serving.mode}, {month} a month"))
        elif winner.monthly is not None:
            pairs.append(("Per month", usd(winner.monthly.monthly_cost_usd)))
        if winner.llm is not None:
            pairs.append(("Cost per 1M output tokens", usd(winner.cost_per_1m_output_tokens_usd)))
            pairs.append(("TTFT / ITL P90", f"{_p90(winner.llm.ttft_ms)} / {_p90(winner.llm.itl_ms)}"))
            pairs.append(("Output tokens/s (goodput)", f"{winner.llm.output_tokens_per_s:,.1f}"))
    if rec is not None:
        measured = len(rec.ranked)
        passing = sum(1 for item in rec.ranked if item.meets_slo)
        unsure = sum(1 for item in rec.ranked if item.slo_status == "uncertain")
        uncertain = f", {unsure} uncertain" if unsure else ""
        pairs.append(
            (
                "Candidates",
                f"{passing} of {measured} meet the SLO{uncertain}, {len(report.failures)} not measured",
            )
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
