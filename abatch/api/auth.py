"""Authentication, the server half: checking a request's AWS Signature Version 4.

With authentication on, every request must carry a SigV4 signature made with the access key
kept in `<state_dir>/credentials.json`. The credentials file, the canonical request pieces
and the client's `sign()` live in `abatch.client.sigv4`, shared with abatch's own client.
Failures answer as AWS does, 403 with `InvalidSignatureException`,
`UnrecognizedClientException`, `IncompleteSignatureException` or
`MissingAuthenticationTokenException`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable

from abatch.client.sigv4 import Credentials, canonical_query, canonical_uri, signature, trim

from .errors import ApiError

MAX_SKEW = dt.timedelta(minutes=15)
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
_AUTH_RE = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+)\s*,\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+)\s*,\s*Signature=(?P<sig>[0-9a-f]{64})\s*$"
)


# ---------------------------------------------------------------------- verify (server)


def verify(
    creds: Credentials,
    *,
    method: str,
    raw_path: str,
    header: Callable[[str], list[str]],
    body: bytes,
    service: str,
    now: dt.datetime | None = None,
) -> None:
    """Raise ApiError (403) unless the request is signed with `creds`. `header(name)` gives
    every value of a header (case-insensitive)."""
    auth = header("authorization")
    if not auth:
        raise ApiError("Missing Authentication Token", "MissingAuthenticationTokenException", 403)
    m = _AUTH_RE.match(auth[0])
    if m is None:
        raise ApiError(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature'.",
            "IncompleteSignatureException",
            403,
        )
    parts = m.group("cred").split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise ApiError("Credential is malformed.", "IncompleteSignatureException", 403)
    key_id, date, region, scoped_service, _ = parts
    if not hmac.compare_digest(key_id, creds.access_key_id):
        raise ApiError(
            "The security token included in the request is invalid.",
            "UnrecognizedClientException",
            403,
        )
    if scoped_service != service:
        raise ApiError(
            f"Credential should be scoped to correct service: '{service}'.",
            "InvalidSignatureException",
            403,
        )
    amz_date = (header("x-amz-date") or [""])[0]
    try:
        at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError(
            "Authorization requires an X-Amz-Date header (yyyyMMddTHHmmssZ).",
            "IncompleteSignatureException",
            403,
        ) from None
    now = now or dt.datetime.now(dt.UTC)
    if abs(now - at) > MAX_SKEW or date != amz_date[:8]:
        raise ApiError(
            f"Signature expired: {amz_date} is now earlier or later than "
            f"{(now - MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} or "
            f"{(now + MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')}.",
            "InvalidSignatureException",
            403,
        )
    signed = m.group("signed").split(";")
    if "host" not in signed:
        raise ApiError("'Host' must be a signed header.", "InvalidSignatureException", 403)
    payload = hashlib.sha256(body).hexdigest()
    claimed = header("x-amz-content-sha256")
    if claimed and claimed[0] != payload:
        raise ApiError(BAD_SIGNATURE, "InvalidSignatureException", 403)
    path, _, query = raw_path.partition("?")
    headers = "".join(f"{n}:{','.join(trim(v) for v in header(n))}\n" for n in signed)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            headers,
            ";".join(signed),
            payload,
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    expected = signature(creds.secret_access_key, amz_date, scope, canonical, region, service)
    if not hmac.compare_digest(expected, m.group("sig")):
        raise ApiError(BAD_SIGNATURE, "InvalidSignatureException", 403)
