"""AWS Signature Version 4 for the load generator's requests, with the signing key cached.

The load generator sends one payload many times, so a signed request stays valid for every send
within its timestamp's window (AWS accepts a signature for five minutes): the transport signs once
a second and reuses the bytes in between, and the key derivation (four HMACs) is done once a day
per secret. The canonical request is the one botocore's `SigV4Auth` builds for the same request;
tests/unit/test_signing.py compares the two signatures header for header.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

ALGORITHM = "AWS4-HMAC-SHA256"
# Headers botocore never signs (hop-by-hop and tracing); we send none of them anyway.
_UNSIGNED = frozenset({"user-agent", "x-amzn-trace-id", "expect", "connection", "transfer-encoding"})


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


class SigV4Signer:
    """Signs requests for one service in one region; the day's signing key is cached per secret."""

    def __init__(self, region: str, service: str) -> None:
        self.region = region
        self.service = service
        self._key: tuple[str, str, bytes] | None = None  # (secret, date, key)

    def signing_key(self, secret_key: str, date: str) -> bytes:
        cached = self._key
        if cached is not None and cached[0] == secret_key and cached[1] == date:
            return cached[2]
        key = _hmac(f"AWS4{secret_key}".encode(), date)
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        self._key = (secret_key, date, key)
        return key

    def sign(
        self,
        method: str,
        host: str,
        path: str,
        headers: dict[str, str],
        payload_sha256: str,
        credentials: Credentials,
        now: datetime,
    ) -> dict[str, str]:
        """The headers to add (X-Amz-Date, the session token when there is one, Authorization)
        to a request with the given `headers` (without Host, which is `host`)."""
        timestamp = now.strftime("%Y%m%dT%H%M%SZ")
        date = timestamp[:8]
        added = {"X-Amz-Date": timestamp}
        if credentials.token:
            added["X-Amz-Security-Token"] = credentials.token
        signed: dict[str, str] = {"host": host}
        for name, value in {**headers, **added}.items():
            if name.lower() not in _UNSIGNED:
                signed[name.lower()] = " ".join(value.split())
        names = sorted(signed)
        signed_headers = ";".join(names)
        canonical = "\n".join(
            [
                method.upper(),
                path,
                "",  # no query string
                "".join(f"{name}:{signed[name]}\n" for name in names),
                signed_headers,
                payload_sha256,
            ]
        )
        scope = f"{date}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(
            self.signing_key(credentials.secret_key, date), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        added["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return added
