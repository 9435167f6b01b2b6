"""Errors as AWS sends them, and the one place abatch's exceptions become HTTP answers.

AWS Batch (rest-json) has two modeled errors: `ClientException` (400) for every bad request
and `ServerException` (500). botocore reads the code from the `x-amzn-ErrorType` header and
the text from the body's `message`; the body also carries `__type`, which the JSON (1.1)
protocol of CloudWatch Logs reads. Only an unexpected failure is a 500, and its body never
holds a traceback (botocore retries 5xx, so a deterministic error must never be one).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from abatch.model.base import aws_alias
from abatch.model.errors import clip

CLIENT = "ClientException"
SERVER = "ServerException"
REQUEST_ID = "x-amzn-RequestId"
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


class ApiError(Exception):
    """An error with an explicit AWS code and HTTP status (auth, CloudWatch Logs)."""

    def __init__(self, message: str, code: str = CLIENT, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def request_id() -> str:
    return str(uuid.uuid4())


def json_response(
    data: dict[str, Any], status: int = 200, *, amz_json: bool = False
) -> web.Response:
    content_type = "application/x-amz-json-1.1" if amz_json else "application/json"
    return web.Response(
        status=status,
        body=json.dumps(data, separators=(",", ":")).encode(),
        content_type=content_type,
    )


def error_response(message: str, code: str = CLIENT, status: int = 400) -> web.Response:
    """An AWS error answer; a message echoing a huge value is cut (`clip`)."""
    response = json_response({"__type": code, "message": clip(message)}, status)
    response.headers["x-amzn-ErrorType"] = code
    return response


def validation_message(exc: ValidationError) -> str:
    """A pydantic error as one line naming the field in AWS spelling (the first problem;
    a count of the others)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = _loc(first["loc"])
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown field (or a field abatch does not support)"
    elif first["type"] == "missing":
        msg = "required"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    # The models speak the config's snake_case; on the wire fields are spelled as AWS does.
    msg = _SNAKE.sub(lambda m: aws_alias(m.group(0)), msg)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
