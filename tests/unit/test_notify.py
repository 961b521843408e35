"""Notifications: SNS content (against moto), Slack Block Kit limits, and a webhook that fails."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from infercost.data.notifications import (
    MAX_PRESIGN_SECONDS,
    check_webhook_url,
    post_slack,
    presign_report,
    report_s3_client,
    slack_webhook_from_secret,
)
from infercost.domain.errors import InputError
from infercost.domain.models import Slo
from infercost.domain.recommend import recommend
from infercost.report.inputs import ReportInput
from infercost.report.messages import (
    ReportLinks,
    ascii_subject,
    build_slack_payload,
    build_sns_message,
    message_kind,
    report_console_url,
)
from infercost.steps.notify import notify_run, report_links

from . import report_data

# --- fixtures: one run per message kind -------------------------------------------------------


def success_run() -> ReportInput:
    return ReportInput.from_run(report_data.run_view(), [])


def regression_run() -> ReportInput:
    return ReportInput.from_run(report_data.run_view())


def no_candidate_run() -> ReportInput:
    results = report_data.results_file()
    strict = recommend(results, report_data.PRICES, slo=Slo(percentile="p90", max_latency_ms=2))
    view = report_data.run_view()
    run = view.run.model_copy(update={"recommendation": strict.to_json(), "regressions": []})
    return ReportInput.from_run(view.model_copy(update={"run": run}))


def failed_run(
    error: str = "spec: candidates[2].instance_type: unknown instance type 'ml.c9.large'",
) -> ReportInput:
    return ReportInput.from_run(
        report_data.run_view(status="FAILED", with_recommendation=False, error=error), []
    )


KINDS = {
    "success": success_run,
    "regression": regression_run,
    "no_candidate": no_candidate_run,
    "failed": failed_run,
}

CONSOLE = (
    "https://eu-west-1.console.aws.amazon.com/s3/object/infercost-artifacts"
    "?region=eu-west-1&prefix=reports/densenet121/r42.html"
)
COMMAND = "infercost report r42 --table infercost-results --region eu-west-1 --out report.html"
DOWNLOAD = (
    "https://infercost-artifacts.s3.eu-west-1.amazonaws.com/reports/densenet121/r42.html?X-Amz-Expires=3600"
)
LINKS = ReportLinks(console_url=CONSOLE, command=COMMAND, download_url=DOWNLOAD)


# --- an independent check of Slack's Block Kit limits -----------------------------------------


def block_kit_problems(payload: dict) -> list[str]:
    """Violations of the documented Block Kit limits for a message posted to a webhook."""
    problems = []
    blocks = payload.get("blocks", [])
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("fallback text missing")
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks > 50")
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "header":
            text = block["text"]
            if text["type"] != "plain_text" or len(text["text"]) > 150:
                problems.append(f"block {index}: header must be plain_text ≤ 150")
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"block {index}: section without text or fields")
            if "text" in block and not 1 <= len(block["text"]["text"]) <= 3000:
                problems.append(f"block {index}: section text {len(block['text']['text'])} chars")
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"block {index}: {len(fields)} fields > 10")
            problems += [
                f"block {index}: field of {len(item['text'])} chars"
                for item in fields
                if not 1 <= len(item["text"]) <= 2000
            ]
        elif kind == "actions":
            for element in block["elements"]:
                if len(element["text"]["text"]) > 75 or len(element.get("url", "")) > 3000:
                    problems.append(f"block {index}: button text/url too long")
        elif kind == "context":
            if len(block["elements"]) > 10:
                problems.append(f"block {index}: context with more than 10 elements")
            problems += [
                f"block {index}: context text {len(item['text'])} chars"
                for item in block["elements"]
                if len(item["text"]) > 2000
            ]
        elif kind != "divider":
            problems.append(f"block {index}: unexpected type {kind}")
    if len(json.dumps(payload)) > 40_000:
        problems.append("message over 40,000 characters")
    return problems


# --- message kinds ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_run_gets_its_kind_of_message(kind):
    report = KINDS[kind]()
    assert message_kind(report) == kind
    message = build_sns_message(report, links=LINKS)
    assert message.kind == kind
    assert message.subject.isascii() and len(message.subject) < 100 and "\n" not in message.subject
    assert report.model in message.subject and report.model in message.body
    assert message.body.endswith(f"\n  {DOWNLOAD}\n")
    payload = build_slack_payload(report, links=LINKS)
    assert block_kit_problems(payload) == []
    assert payload["text"] == message.subject


# --- the way to the report, and how long it works ---------------------------------------------


def test_the_message_says_how_long_each_way_to_the_report_works():
    body = build_sns_message(success_run(), links=LINKS).body
    assert body.endswith(
        "\nReport:\n"
        "  In the S3 console (sign in to the AWS account; this link does not expire):\n"
        f"  {CONSOLE}\n"
        f"  From a terminal: {COMMAND}\n"
        "  Direct download (a pre-signed link, valid for up to an hour):\n"
        f"  {DOWNLOAD}\n"
    )
    # The old wording promised a link without saying for how long; a week was never true.
    assert "a pre-signed link that expires" not in body and "7 days" not in body


def test_slack_explains_each_link_and_gives_the_command():
    payload = build_slack_payload(success_run(), links=LINKS)
    assert block_kit_problems(payload) == []
    (section,) = [
        block for block in payload["blocks"] if block.get("text", {}).get("text", "").startswith("*Report*")
    ]
    assert section["text"]["text"] == (
        "*Report*\n"
        "• S3 console: sign in to the AWS account; this link does not expire\n"
        "• Download: a pre-signed link, valid for up to an hour\n"
        f"• From a terminal: `{COMMAND}`"
    )
    (actions,) = [block for block in payload["blocks"] if block["type"] == "actions"]
    assert [(button["text"]["text"], button["url"]) for button in actions["elements"]] == [
        ("Open in the S3 console", CONSOLE),
        ("Download (valid for up to an hour)", DOWNLOAD),
    ]


def test_without_links_no_report_is_mentioned():
    assert "Report:" not in build_sns_message(failed_run()).body
    payload = build_slack_payload(failed_run(), links=ReportLinks())
    assert all(block["type"] != "actions" for block in payload["blocks"])
    assert "*Report*" not in json.dumps(payload)


def test_success_names_the_winner_and_its_cost():
    report = success_run()
    winner = report.recommendation.recommended
    message = build_sns_message(report)
    serving = report.recommendation.serving
    # With a traffic profile the subject names the serving mode and its month.
    assert serving is not None and serving.monthly_cost_usd is not None
    assert message.subject == (
        f"infercost densenet121: use {winner.label} ({serving.mode}, ${serving.monthly_cost_usd:,.2f}/month, P90 5.6 ms)"
    )
    assert report.recommendation.reason in message.body
    assert "Regressions" not in message.body


def test_regressions_are_counted_in_the_subject_and_listed():
    report = regression_run()
    message = build_sns_message(report)
    assert message.subject.startswith("infercost densenet121: 2 regressions - use ml.inf2.xlarge")
    for note in report.regressions:
        assert f"  - {note.message}" in message.body
    payload_text = json.dumps(build_slack_payload(report), ensure_ascii=False)
    assert "Regressions since the previous run" in payload_text


def test_no_candidate_message_names_the_slo_and_the_fastest():
    report = no_candidate_run()
    message = build_sns_message(report)
    assert message.subject == "infercost densenet121: no candidate meets P90 <= 2 ms"
    assert "No candidate of 17 meets P90 ≤ 2 ms" in message.body


def test_failed_message_carries_the_reason_with_its_field_path():
    report = failed_run()
    message = build_sns_message(report)
    assert message.subject.startswith("infercost densenet121: run FAILED - spec: candidates[2].instance_type")
    assert "Reason: spec: candidates[2].instance_type: unknown instance type 'ml.c9.large'" in message.body
    payload = build_slack_payload(report)
    assert "candidates[2].instance_type" in payload["blocks"][1]["text"]["text"]


def test_failures_with_sagemaker_reason_appear_in_both_messages():
    report = success_run()
    body = build_sns_message(report).body
    assert "ml.g5.2xlarge FAILED: endpoint infercost-r42-17-g5-2xlarge ended in Failed" in body
    assert "(SageMaker: The primary container for production variant AllTraffic" in body
    slack = json.dumps(build_slack_payload(report), ensure_ascii=False)
    assert "ml.inf2.8xlarge *SKIPPED*" in slack


def test_subject_is_ascii_and_cut_below_100_characters():
    assert ascii_subject("use 2 × ml.g5.xlarge — P90 ≤ 80 ms") == "use 2 x ml.g5.xlarge - P90 <= 80 ms"
    long = ascii_subject("x" * 300)
    assert len(long) == 99 and long.endswith("...")
    assert ascii_subject("a\nb\tc") == "a b c"
    assert ascii_subject("emoji 🚀 model").isascii()


def test_a_huge_run_stays_within_slack_and_sns_limits():
    long_error = "CreateEndpoint failed: " + "<very long reason & details> " * 400
    report = failed_run(error=long_error)
    report = report.model_copy(
        update={"failures": report.failures * 30, "regressions": regression_run().regressions * 40}
    )
    payload = build_slack_payload(
        report, links=LINKS.model_copy(update={"download_url": "https://example.com/" + "q" * 2500})
    )
    assert block_kit_problems(payload) == []
    message = build_sns_message(report)
    assert len(message.subject) < 100
    assert len(message.body.encode("utf-8")) < 256 * 1024


def test_slack_text_is_escaped_and_an_overlong_link_is_left_out():
    report = failed_run(error="bad <payload> & <!channel>")
    overlong = "https://example.com/" + "q" * 3100
    payload = build_slack_payload(report, links=ReportLinks(download_url=overlong))
    reason = payload["blocks"][1]["text"]["text"]
    assert "&lt;payload&gt; &amp; &lt;!channel&gt;" in reason and "<!channel>" not in reason
    assert all(block["type"] != "actions" for block in payload["blocks"])
    # Cut, the link would lead nowhere: the console link and the command stay.
    payload = build_slack_payload(report, links=LINKS.model_copy(update={"download_url": overlong}))
    assert block_kit_problems(payload) == []
    (actions,) = [block for block in payload["blocks"] if block["type"] == "actions"]
    assert [button["url"] for button in actions["elements"]] == [CONSOLE]
    assert "Download" not in json.dumps(payload) and COMMAND in json.dumps(payload)


# --- SNS against moto -------------------------------------------------------------------------


@pytest.fixture
def topic(moto_aws):
    """A topic with an SQS subscriber, to read back what SNS delivered."""
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    arn = sns.create_topic(Name="infercost-notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)

    def delivered() -> list[dict]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return sns, arn, delivered


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sns_delivers_subject_body_and_attributes(topic, kind):
    sns, arn, delivered = topic
    report = KINDS[kind]()
    result = notify_run(report, sns_client=sns, topic_arn=arn, slack_webhook_url=None, links=LINKS)
    assert result.kind == kind and result.sns_message_id
    assert result.slack_delivered is False and result.slack_error is None
    (message,) = delivered()
    expected = build_sns_message(report, links=LINKS)
    assert message["MessageId"] == result.sns_message_id
    assert message["Subject"] == expected.subject and message["Message"] == expected.body
    assert message["MessageAttributes"]["kind"]["Value"] == kind
    assert message["MessageAttributes"]["model"]["Value"] == "densenet121"


def test_notify_run_takes_a_stored_run_view_and_regressions(topic):
    sns, arn, delivered = topic
    view = report_data.run_view()
    result = notify_run(
        view, sns_client=sns, topic_arn=arn, slack_webhook_url=None, links=None, regressions=[]
    )
    assert result.kind == "success"
    assert "Regressions" not in delivered()[0]["Message"]


# --- a local webhook that misbehaves ----------------------------------------------------------


@dataclass
class Webhook:
    """A local HTTP server that answers each POST with the next scripted behaviour."""

    script: list[tuple[int, float]]
    received: list[dict] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                webhook.received.append(json.loads(self.rfile.read(length)))
                status, delay = webhook.script[min(len(webhook.received), len(webhook.script)) - 1]
                time.sleep(delay)
                if status == 0:  # hang up without an answer
                    self.close_connection = True
                    return
                body = b"ok" if status == 200 else b"invalid_payload" if status == 400 else b"rollup_error"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/XXXX"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def webhook():
    servers: list[Webhook] = []

    def start(*script: tuple[int, float]) -> Webhook:
        server = Webhook(list(script))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def no_sleep(_: float) -> None:
    pass


def test_slack_gets_the_payload(webhook):
    hook = webhook((200, 0))
    payload = build_slack_payload(success_run())
    assert post_slack(hook.url, payload, sleep=no_sleep) is None
    assert hook.received == [payload]


def test_a_500_is_retried_once_then_reported(webhook):
    hook = webhook((500, 0), (500, 0))
    error = post_slack(hook.url, {"text": "x"}, sleep=no_sleep)
    assert error == "Slack answered HTTP 500 (rollup_error)"
    assert len(hook.received) == 2


def test_a_500_then_success_is_delivered_by_the_retry(webhook):
    hook = webhook((500, 0), (200, 0))
    assert post_slack(hook.url, {"text": "x"}, sleep=no_sleep) is None
    assert len(hook.received) == 2


def test_a_bad_payload_is_not_retried(webhook):
    hook = webhook((400, 0))
    assert post_slack(hook.url, {"text": "x"}, sleep=no_sleep) == "Slack answered HTTP 400 (invalid_payload)"
    assert len(hook.received) == 1


def test_a_webhook_that_does_not_answer_times_out(webhook):
    hook = webhook((200, 1.0))
    started = time.monotonic()
    error = post_slack(hook.url, {"text": "x"}, timeout_s=0.2, sleep=no_sleep)
    assert time.monotonic() - started < 2.0
    assert error is not None and "127.0.0.1" in error and ("0.2 s" in error or "timed out" in error)
    assert len(hook.received) == 2


def test_a_webhook_that_hangs_up_is_reported(webhook):
    hook = webhook((0, 0), (0, 0))
    error = post_slack(hook.url, {"text": "x"}, sleep=no_sleep)
    assert error is not None and error.startswith("could not reach 127.0.0.1")
    assert len(hook.received) == 2


def test_a_refused_connection_is_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    retries: list[float] = []
    error = post_slack(f"http://127.0.0.1:{port}/hook", {"text": "x"}, sleep=retries.append)
    assert error is not None and error.startswith("could not reach 127.0.0.1")
    assert retries == [1.0]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "http://hooks.slack.com/services/x", "ftp://x/y", "hooks"]
)
def test_only_https_or_local_http_webhooks_are_used(url):
    with pytest.raises(InputError, match="slack_webhook_url"):
        check_webhook_url(url)
    assert post_slack(url, {"text": "x"}, sleep=no_sleep).startswith("slack_webhook_url:")


def test_a_failing_slack_never_fails_the_run(topic, webhook):
    sns, arn, delivered = topic
    hook = webhook((500, 0), (503, 0))
    result = notify_run(
        regression_run(),
        sns_client=sns,
        topic_arn=arn,
        slack_webhook_url=hook.url,
        links=LINKS,
        sleep=no_sleep,
    )
    assert result.sns_message_id and len(delivered()) == 1
    assert result.slack_delivered is False and result.slack_error == "Slack answered HTTP 503 (rollup_error)"
    assert hook.received[0]["blocks"][0]["type"] == "header"


def test_a_working_slack_is_reported_delivered(topic, webhook):
    sns, arn, _ = topic
    hook = webhook((200, 0))
    result = notify_run(success_run(), sns_client=sns, topic_arn=arn, slack_webhook_url=hook.url, links=None)
    assert result.slack_delivered is True and result.slack_error is None
    assert block_kit_problems(hook.received[0]) == []


# --- secrets and pre-signed links -------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("https://hooks.slack.com/services/T1/B2/c3", "https://hooks.slack.com/services/T1/B2/c3"),
        (
            '{"webhook_url": "https://hooks.slack.com/services/T1/B2/c3"}',
            "https://hooks.slack.com/services/T1/B2/c3",
        ),
        ("  https://hooks.slack.com/services/T1/B2/c3\n", "https://hooks.slack.com/services/T1/B2/c3"),
        ("REPLACE_ME", None),
        ('{"other": 1}', None),
        ("{not json", None),
    ],
)
def test_the_webhook_url_is_read_from_secrets_manager(moto_aws, secret, expected):
    client = boto3.client("secretsmanager", region_name="us-east-1")
    arn = client.create_secret(Name="infercost/slack", SecretString=secret)["ARN"]
    assert slack_webhook_from_secret(client, arn) == expected


def test_a_missing_secret_skips_slack(moto_aws):
    client = boto3.client("secretsmanager", region_name="us-east-1")
    assert slack_webhook_from_secret(client, "infercost/nothing") is None


def test_an_unreachable_secrets_manager_skips_slack():
    from botocore.config import Config

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )
    assert slack_webhook_from_secret(client, "infercost/slack") is None


def test_the_report_link_is_sigv4_with_a_bounded_lifetime(moto_aws):
    s3 = report_s3_client("eu-west-1")
    s3.create_bucket(
        Bucket="infercost-artifacts", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    s3.put_object(Bucket="infercost-artifacts", Key="reports/r42.html", Body=b"<html></html>")
    url = presign_report(s3, "infercost-artifacts", "reports/r42.html", expires_s=3 * 24 * 3600)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.hostname == "infercost-artifacts.s3.eu-west-1.amazonaws.com"
    assert parts.path == "/reports/r42.html"
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Expires"] == ["259200"]
    # By default an hour, which the signing role's session covers; not the SigV4 maximum of a week.
    assert presign_report(s3, "infercost-artifacts", "reports/r42.html").count("X-Amz-Expires=3600&") == 1


def test_report_links_of_a_deployed_stack(moto_aws):
    s3 = report_s3_client("eu-west-1")
    links = report_links(
        run_id="r42",
        bucket="infercost-artifacts",
        key="reports/densenet121/r42.html",
        region="eu-west-1",
        table="infercost-results",
        s3_client=s3,
    )
    assert links.console_url == CONSOLE and links.command == COMMAND
    query = parse_qs(urlsplit(links.download_url).query)
    assert query["X-Amz-Expires"] == ["3600"]


def test_the_local_stack_gets_only_the_download_link(moto_aws):
    links = report_links(
        run_id="r42",
        bucket="infercost-artifacts",
        key="reports/densenet121/r42.html",
        region="us-east-1",
        table="infercost-results",
        s3_client=report_s3_client("us-east-1"),
        in_aws_account=False,
    )
    assert links.console_url is None and links.command is None and links.download_url


def test_the_console_link_quotes_the_key_and_stays_in_the_standard_partition():
    assert report_console_url("us-east-1", "b", "reports/my model/r 1.html") == (
        "https://us-east-1.console.aws.amazon.com/s3/object/b?region=us-east-1&prefix=reports/my%20model/r%201.html"
    )
    assert report_console_url("cn-north-1", "b", "reports/r.html") is None
    assert report_console_url("us-gov-west-1", "b", "reports/r.html") is None


@pytest.mark.parametrize("seconds", [0, MAX_PRESIGN_SECONDS + 1])
def test_a_link_beyond_seven_days_is_refused(moto_aws, seconds):
    with pytest.raises(InputError, match="expires_s"):
        presign_report(
            report_s3_client("us-east-1"), "infercost-artifacts", "reports/r.html", expires_s=seconds
        )


def test_a_sigv2_client_is_refused(moto_aws):
    legacy = boto3.client("s3", region_name="us-east-1")
    with pytest.raises(InputError, match="SigV2"):
        presign_report(legacy, "infercost-artifacts", "reports/r.html")
