"""Delivering notifications: posting to a Slack webhook, reading its URL from Secrets Manager, and
pre-signing the report's download link."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from infercost.data import clients as aws
from infercost.domain.errors import InputError

if TYPE_CHECKING:
    pass


logger = logging.getLogger(__name__)


# Pre-signed URLs signed with SigV4 live at most seven days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


# A pre-signed URL stops working when the credentials that signed it expire, whatever its own
# expiry (S3 User Guide, "Who can create a presigned URL"; Knowledge Center
# presigned-url-s3-bucket-expiration). The Notify Lambda signs with its role's temporary
# credentials, whose remaining lifetime AWS does not document ("services that assume a role,
# such as the AWS Lambda execution role, don't necessarily comply with the role's session
# duration settings"): the download link is short and says it may end sooner.
DOWNLOAD_LINK_SECONDS = 3600


DEFAULT_SLACK_TIMEOUT_S = 5.0


_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


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
            hint="create it with infercost.data.notifications.report_s3_client(region)",
        )
    return url
