"""The HTTP server: AWS Batch (rest-json) and the CloudWatch Logs subset (JSON 1.1) on one
port, inside the runtime's event loop.

Routing is done on the raw request target, never on a decoded path: a tag operation's ARN
arrives percent-encoded (`/v1/tags/arn%3Aaws%3Abatch%3A...%2Fq1`) and decoding `%2F` first
would break the match; so there is no router, only aiohttp's low-level server and the
tables `ApiServer._route` dispatches on. A request with an `X-Amz-Target` header is a
CloudWatch Logs call.

Every request: the body is read up to `MAX_BODY` (1 MiB; SubmitJob 30 KiB and
RegisterJobDefinition 24 KiB, as AWS), then the signature is checked when authentication is
on, then the operation runs. Every answer carries `x-amzn-RequestId`, and every error is
AWS's JSON shape, even for a request aiohttp cannot parse (`_Protocol`); only a fault of the
runtime itself is a 5xx.

`serve_api` binds 127.0.0.1 by default; another address only with authentication on. It
writes `<state_dir>/api.json` (`{"url", "pid", "auth"}`, mode 0600) once listening, so the
CLI can find the runtime, and removes it on the way out.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import anyio
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from anyio.abc import TaskStatus
from pydantic import ValidationError

from abatch.client.http import API_FILE, LOGS_TARGET
from abatch.client.sigv4 import Credentials, load_credentials
from abatch.config.settings import is_loopback
from abatch.model.errors import AbatchError, ClientError

from . import instances, jobs, logs, policies, resources, uiview
from .auth import verify
from .errors import (
    CLIENT,
    REQUEST_ID,
    SERVER,
    ApiError,
    error_response,
    json_response,
    request_id,
    validation_message,
)
from .params import Operation, Params

if TYPE_CHECKING:
    from abatch.runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765
MAX_BODY = 1024 * 1024
OP_LIMITS = {"SubmitJob": 30 * 1024, "RegisterJobDefinition": 24 * 1024}
SHUTDOWN_TIMEOUT_S = 2.0
# Longest request line and header aiohttp reads (its default is 8 KiB): a tag operation's
# path holds a percent-encoded ARN, and a request past these is answered by `_Protocol`.
MAX_LINE = 64 * 1024
BODY_IDLE_S = 10.0  # the longest wait for more of a request body

UNSUPPORTED = [
    "CreateConsumableResource",
    "DeleteConsumableResource",
    "DescribeConsumableResource",
    "ListConsumableResources",
    "UpdateConsumableResource",
    "ListJobsByConsumableResource",
    "CreateServiceEnvironment",
    "DeleteServiceEnvironment",
    "DescribeServiceEnvironments",
    "UpdateServiceEnvironment",
    "SubmitServiceJob",
    "DescribeServiceJob",
    "ListServiceJobs",
    "TerminateServiceJob",
    "TerminateServiceJobs",
    "UpdateServiceJob",
    "CreateQuotaShare",
    "DeleteQuotaShare",
    "DescribeQuotaShare",
    "ListQuotaShares",
    "UpdateQuotaShare",
]
OPERATIONS: dict[str, Operation] = {
    **jobs.OPERATIONS,
    **resources.OPERATIONS,
    **policies.OPERATIONS,
    **instances.OPERATIONS,  # local extensions
    **uiview.OPERATIONS,  # abatch's own, for an attached terminal UI
}
_BY_PATH = {name.lower(): name for name in [*OPERATIONS, *UNSUPPORTED]}


class ApiServer:
    """Turns requests into operations on the runtime and errors into AWS error answers."""

    def __init__(self, rt: Runtime, credentials: Credentials | None = None) -> None:
        self.rt = rt
        self.credentials = credentials

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            response = await self._route(request)
        except ApiError as exc:
            response = error_response(exc.message, exc.code, exc.status)
        except ClientError as exc:
            response = error_response(str(exc))
        except ValidationError as exc:  # a model checked deeper down than the edge
            response = error_response(validation_message(exc))
        except AbatchError as exc:
            # The runtime could not do it (its state directory failed): not the caller's fault.
            response = error_response(str(exc), SERVER, 500)
        except Exception:
            log.exception("%s %s failed", request.method, request.raw_path)
            response = error_response(
                "internal error in the abatch runtime (details in its log)", SERVER, 500
            )
        response.headers[REQUEST_ID] = request_id()
        return response

    async def _route(self, request: web.BaseRequest) -> web.Response:
        path, _, query = request.raw_path.partition("?")
        target = request.headers.get("X-Amz-Target")
        if target is not None:
            return await self._logs(request, target)
        if path.startswith("/v1/tags/"):
            return await self._tags(request, path, query)
        name = _BY_PATH.get(path[4:].lower()) if path.startswith("/v1/") else None
        if name is None or request.method != "POST":
            await self._body(request, MAX_BODY)  # read it: a client may still be sending
            raise ClientError(f"unknown operation: {request.method} {path}")
        body = await self._body(request, MAX_BODY)
        self._authenticate(request, body, "batch")
        if name in UNSUPPORTED:
            raise ClientError(f"abatch does not support {name}")
        limit = OP_LIMITS.get(name)
        if limit is not None and len(body) > limit:
            raise ClientError(
                f"the {name} request is {len(body)} bytes; at most {limit // 1024} KiB"
            )
        handler, allowed = OPERATIONS[name]
        return json_response(await handler(self.rt, Params(_json(body), allowed)))

    async def _tags(self, request: web.BaseRequest, path: str, query: str) -> web.Response:
        body = await self._body(request, MAX_BODY)
        self._authenticate(request, body, "batch")
        arn = unquote(path[len("/v1/tags/") :])
        if not arn:
            raise ClientError("resourceArn is required")
        if request.method == "GET":
            return json_response(await policies.list_tags_for_resource(self.rt, arn))
        if request.method == "POST":
            p = Params(_json(body), ("tags",))
            return json_response(await policies.tag_resource(self.rt, arn, p))
        if request.method == "DELETE":
            pairs = parse_qsl(query, keep_blank_values=True)
            unknown = sorted({k for k, _ in pairs if k != "tagKeys"})
            if unknown:
                raise ClientError(f"unknown parameter(s): {', '.join(unknown)}")
            keys = [v for k, v in pairs if k == "tagKeys"]
            return json_response(await policies.untag_resource(self.rt, arn, keys))
        raise ClientError(f"unknown operation: {request.method} {path}")

    async def _logs(self, request: web.BaseRequest, target: str) -> web.Response:
        body = await self._body(request, MAX_BODY)
        self._authenticate(request, body, "logs")
        op = target.removeprefix(LOGS_TARGET)
        entry = logs.OPERATIONS.get(op) if target.startswith(LOGS_TARGET) else None
        if entry is None or request.method != "POST":
            raise ApiError(
                f"abatch serves only these CloudWatch Logs operations: "
                f"{', '.join(logs.OPERATIONS)} (not {target})",
                "UnknownOperationException",
            )
        handler, allowed = entry
        try:
            result = await handler(self.rt, Params(_json(body), allowed))
        except ClientError as exc:
            raise ApiError(str(exc), logs.INVALID) from None
        return json_response(result, amz_json=True)

    async def _body(self, request: web.BaseRequest, limit: int) -> bytes:
        if request.content_length is not None and request.content_length > limit:
            raise ClientError(f"the request body is larger than {limit // 1024} KiB")
        data = bytearray()
        try:
            while True:
                # A body that stops arriving is given up on: a client that stalls must not
                # hold a request open forever, and neither must aiohttp, which leaves the
                # read of a chunked body waiting when a later chunk header is malformed.
                with anyio.fail_after(BODY_IDLE_S):
                    chunk = await request.content.read(64 * 1024)
                if not chunk:
                    break
                data += chunk
                if len(data) > limit:
                    raise ClientError(f"the request body is larger than {limit // 1024} KiB")
        except HttpProcessingError as exc:  # a malformed chunked body, say
            raise ClientError(f"the request body cannot be read: {exc.message}") from None
        except ConnectionResetError:  # the client went away, or its body broke off
            raise ClientError("the request body was cut off") from None
        except TimeoutError:
            raise ClientError(
                f"the request body stopped arriving (nothing for {BODY_IDLE_S:g} s)"
            ) from None
        return bytes(data)

    def _authenticate(self, request: web.BaseRequest, body: bytes, service: str) -> None:
        if self.credentials is None:
            return
        verify(
            self.credentials,
            method=request.method,
            raw_path=request.raw_path,
            header=lambda name: request.headers.getall(name, []),
            body=body,
            service=service,
        )


def _json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object. Refused: anything but a JSON object, nesting deeper than
    Python's parser goes, NaN and Infinity (not JSON, though Python reads them), and strings
    holding a lone surrogate escape (`"\\ud800"`: valid JSON, but no UTF-8 text to store)."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise ClientError("the request body is nested too deeply") from None
    except ValueError:
        raise ClientError("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ClientError("the request body must be a JSON object")
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise ClientError(
            "the request body holds a string that is not valid Unicode (a lone surrogate)"
        ) from None
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


class _Protocol(RequestHandler):
    """aiohttp's connection handler, answering a request it cannot parse (a request line or
    header past `MAX_LINE`, a bad header character, a broken chunk) as AWS would: a 400
    ClientException in JSON, logged as one line rather than a traceback."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # an answer has begun: nothing left to say
            raise ConnectionError("the answer was already being sent")
        reason = (message or str(exc) or "unreadable request").strip().splitlines()[0][:200]
        if status >= 500:
            log.error("%s: %s", request.remote, reason, exc_info=exc)
            response = error_response(
                "internal error in the abatch runtime (details in its log)", SERVER, 500
            )
        else:
            # The reason quotes the request's own bytes (a header's value, say), which may
            # be a secret: the client gets it back, the log gets only its kind.
            kind = type(exc).__name__ if exc is not None else "unparseable"
            log.info("unreadable request from %s (%s)", request.remote, kind)
            response = error_response(f"the request is not valid HTTP: {reason}", CLIENT, 400)
        response.headers[REQUEST_ID] = request_id()
        response.force_close()
        return response


class _HttpServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


def _url(host: str, port: int) -> str:
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def write_api_file(state_dir: Path, url: str, *, auth: bool) -> Path:
    """`<state_dir>/api.json`, mode 0600, replaced atomically."""
    path = state_dir / API_FILE
    tmp = state_dir / f".{API_FILE}.{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "pid": os.getpid(), "auth": auth}, f)
    os.replace(tmp, path)
    return path


async def serve_api(
    rt: Runtime,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    *,
    auth: bool = False,
    task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the API of `rt` until cancelled; use with `await tg.start(serve_api, rt, ...)`,
    which returns the URL it listens on (`port=0`: an ephemeral port)."""
    if not auth and not is_loopback(host):
        raise ClientError(
            f"refusing to serve the API on {host}, which is not a loopback address, without "
            "authentication; turn authentication on or bind 127.0.0.1"
        )
    credentials = load_credentials(rt.state_dir, create=True) if auth else None
    # The low-level server: `ApiServer.handle` routes on the raw request target itself.
    # No access log; request bodies are taken as sent (no Content-Encoding decompression:
    # AWS SDKs send none, and it would turn a small body into a large one).
    http = _HttpServer(
        ApiServer(rt, credentials).handle,
        access_log=None,
        max_line_size=MAX_LINE,
        max_field_size=MAX_LINE,
        auto_decompress=False,
    )
    runner = web.ServerRunner(http, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    api_file: Path | None = None
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ClientError(f"cannot serve the API on {host}:{port}: {exc.strerror}") from None
        bound = runner.addresses[0][1]
        url = _url(host, bound)
        api_file = write_api_file(rt.state_dir, url, auth=auth)
        task_status.started(url)
        await anyio.sleep_forever()
    finally:
        with anyio.CancelScope(shield=True):
            if api_file is not None:
                with contextlib.suppress(OSError):
                    api_file.unlink()
            await runner.cleanup()
