"""AWS Signature Version 4, the half both ends share: the runtime's credentials file, the
canonical request pieces, and `sign()` for abatch's own client.

The credentials live in `<state_dir>/credentials.json` (created on first use by a runtime
serving with authentication, mode 0600, refused if others can read it). The canonical
request is built exactly as botocore builds it for a rest-json or JSON service: the path
percent-encoded a second time (`%3A` becomes `%253A`), the query pairs sorted, the signed
headers trimmed, the body's SHA-256. Standard library only: the server's `verify()` (in
`abatch.api.auth`) uses these same pieces, so the two ends cannot drift apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from abatch.model.errors import StateDirError

CREDENTIALS_FILE = "credentials.json"
ALGORITHM = "AWS4-HMAC-SHA256"
_KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_access_key: str


def load_credentials(state_dir: Path, *, create: bool = False) -> Credentials | None:
    """The runtime's credentials; made on first use when `create` (mode 0600)."""
    path = state_dir / CREDENTIALS_FILE
    if create and not path.exists():
        creds = Credentials(
            "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
            secrets.token_urlsafe(30)[:40],
        )
        doc = {
            "aws_access_key_id": creds.access_key_id,
            "aws_secret_access_key": creds.secret_access_key,
        }
        with contextlib.suppress(FileExistsError):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f)
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_mode & 0o077:
        raise StateDirError(f"{path} can be read by other users; `chmod 600 {path}` and retry")
    try:
        doc = json.loads(path.read_text())
        return Credentials(doc["aws_access_key_id"], doc["aws_secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateDirError(f"{path} is not a usable credentials file: {exc}") from None


# ---------------------------------------------------------------------- canonical request


def _remove_dot_segments(path: str) -> str:
    out: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(raw_path: str) -> str:
    return quote(_remove_dot_segments(raw_path) if raw_path else "/", safe="/~")


def canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def trim(value: str) -> str:
    return " ".join(value.split())


def _key(secret: str, date: str, region: str, service: str) -> bytes:
    k = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def signature(
    secret: str, amz_date: str, scope: str, canonical: str, region: str, service: str
) -> str:
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _key(secret, amz_date[:8], region, service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------- sign (client)


def sign(
    creds: Credentials,
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    service: str,
    region: str = "us-east-1",
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """`headers` plus `X-Amz-Date` and `Authorization` for a request to `url`."""
    parts = urlsplit(url)
    at = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    out = {**headers, "Host": parts.netloc, "X-Amz-Date": at}
    lower = {k.lower(): trim(v) for k, v in out.items()}
    signed = sorted(lower)
    canonical = "\n".join(
        [
            method.upper(),
            canonical_uri(parts.path),
            canonical_query(parts.query),
            "".join(f"{n}:{lower[n]}\n" for n in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{at[:8]}/{region}/{service}/aws4_request"
    sig = signature(creds.secret_access_key, at, scope, canonical, region, service)
    out["Authorization"] = (
        f"{ALGORITHM} Credential={creds.access_key_id}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={sig}"
    )
    return out
