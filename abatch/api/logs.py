"""The CloudWatch Logs subset that reading job logs needs: GetLogEvents, DescribeLogStreams,
FilterLogEvents, DescribeLogGroups. JSON 1.1 protocol: `POST /` with
`X-Amz-Target: Logs_20140328.<Operation>`, errors as `{"__type", "message"}`.

There is one log group, `/aws/batch/job`, and one stream per attempt that reached RUNNING
(AWS creates the stream then), named as AWS names it. Each line of the attempt's log file is
one event.

Timestamps: the log files hold the output exactly as the job wrote it, with no time per
line, so every event of a stream carries the attempt's `startedAt` as `timestamp` and
`ingestionTime`, and a stream's first and last event timestamps are that same moment. Order
within a stream is file order; FilterLogEvents across streams goes by (startedAt, stream
name), which is timestamp order. `startTime`/`endTime` therefore select whole attempts.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from abatch.model.base import ACCOUNT, REGION
from abatch.model.errors import ClientError
from abatch.model.job import LOG_GROUP
from abatch.runtime.operations import decode_token, encode_token
from abatch.store.extra import StreamRow

from . import logread
from .errors import ApiError
from .params import Operation, Params

if TYPE_CHECKING:
    from abatch.runtime import Runtime

MAX_RESPONSE = 1024 * 1024
MAX_FILTER_SCAN = 16 * 1024 * 1024  # bytes read by one FilterLogEvents call at most
MAX_FILTER_STREAMS = 500  # streams opened by one call at most (then a token goes on)
GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{LOG_GROUP}"
GROUP_NAMES = frozenset({LOG_GROUP, GROUP_ARN, GROUP_ARN + ":*"})  # what names the group
INVALID = "InvalidParameterException"
NOT_FOUND = "ResourceNotFoundException"
# Log group classes AWS knows; the one group is STANDARD.
GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")


def _group(p: Params) -> None:
    name = p.text("logGroupName") or p.text("logGroupIdentifier")
    if name is None:
        raise ApiError("logGroupName or logGroupIdentifier is required", INVALID)
    if name not in GROUP_NAMES:
        raise ApiError("The specified log group does not exist.", NOT_FOUND)


def _stream_arn(name: str) -> str:
    return f"{GROUP_ARN}:log-stream:{name}"


async def _stream(rt: Runtime, name: str) -> StreamRow:
    await rt.store.flush_for_read()
    row = await rt.store.stream(name)
    if row is None or row.started_at is None:
        raise ApiError("The specified log stream does not exist.", NOT_FOUND)
    return row


def _event(line: logread.Line, at: int) -> dict[str, Any]:
    return {"timestamp": at, "message": line.text, "ingestionTime": at}


async def get_log_events(rt: Runtime, p: Params) -> dict[str, Any]:
    _group(p)
    row = await _stream(rt, p.req_text("logStreamName"))
    limit = p.number("limit", lo=1, hi=10000) or 10000
    start_time, end_time = p.number("startTime"), p.number("endTime")
    token = p.text("nextToken")
    path = rt.log_path(row.name)
    final = row.stopped_at is not None
    if token is not None:
        direction, pos = _position(token)
    else:
        direction, pos = ("f", 0) if p.flag("startFromHead") else ("b", -1)
    if direction == "f":
        lines, end = await anyio.to_thread.run_sync(
            logread.read_forward, path, pos, limit, MAX_RESPONSE, final
        )
        start = pos
    else:
        if pos < 0:
            pos = await anyio.to_thread.run_sync(logread.boundary, path, final)
        lines, start = await anyio.to_thread.run_sync(
            logread.read_backward, path, pos, limit, MAX_RESPONSE
        )
        end = pos
    at = row.started_at or 0
    if (start_time is not None and at < start_time) or (end_time is not None and at >= end_time):
        lines = []
    return {
        "events": [_event(line, at) for line in lines],
        "nextForwardToken": f"f/{end:056d}",
        "nextBackwardToken": f"b/{start:056d}",
    }


def _position(token: str) -> tuple[str, int]:
    direction, _, digits = token.partition("/")
    if direction not in ("f", "b") or not digits.isdigit():
        raise ApiError("The specified nextToken is invalid.", INVALID)
    return direction, int(digits)


async def describe_log_streams(rt: Runtime, p: Params) -> dict[str, Any]:
    _group(p)
    prefix = p.text("logStreamNamePrefix")
    order = p.text("orderBy") or "LogStreamName"
    if order not in ("LogStreamName", "LastEventTime"):
        raise ApiError("orderBy must be LogStreamName or LastEventTime", INVALID)
    if order == "LastEventTime" and prefix:
        raise ApiError("Cannot order by LastEventTime with a logStreamNamePrefix.", INVALID)
    limit = p.number("limit", lo=1, hi=50) or 50
    after = _key(p.text("nextToken"), "streams")
    await rt.store.flush_for_read()
    rows = await rt.store.streams(
        prefix=prefix,
        by_time=order == "LastEventTime",
        descending=bool(p.flag("descending")),
        after=after,
        limit=limit + 1,
    )
    out: dict[str, Any] = {}
    if len(rows) > limit:
        rows = rows[:limit]
        out["nextToken"] = encode_token("streams", [rows[-1].started_at, rows[-1].name])
    mtimes = await anyio.to_thread.run_sync(
        lambda: [logread.mtime_ms(rt.log_path(r.name)) for r in rows]
    )
    out["logStreams"] = [
        {
            "logStreamName": r.name,
            "creationTime": r.started_at,
            "firstEventTimestamp": r.started_at,
            "lastEventTimestamp": r.started_at,
            "lastIngestionTime": r.stopped_at if mtime is None else mtime,
            "arn": _stream_arn(r.name),
            "storedBytes": 0,  # AWS reports 0 for streams since 2019
        }
        for r, mtime in zip(rows, mtimes, strict=True)
    ]
    return out


def _key(token: str | None, kind: str) -> tuple[int, str] | None:
    if token is None:
        return None
    try:
        at, name = decode_token(token, kind)[:2]
        return int(at), str(name)
    except (ClientError, TypeError, ValueError):
        raise ApiError("The specified nextToken is invalid.", INVALID) from None


async def filter_log_events(rt: Runtime, p: Params) -> dict[str, Any]:
    _group(p)
    names = p.texts("logStreamNames", max_items=100)
    prefix = p.text("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise ApiError("logStreamNames and logStreamNamePrefix can't both be given", INVALID)
    if names == []:
        raise ApiError("logStreamNames needs at least one name", INVALID)
    match = matcher(p.text("filterPattern") or "")
    limit = p.number("limit", lo=1, hi=10000) or 10000
    start_time, end_time = p.number("startTime"), p.number("endTime")
    resume = _filter_token(p.text("nextToken"))
    after = None if resume is None else (resume[0], resume[1])
    inclusive = resume is not None  # go on inside the stream the last page stopped in
    await rt.store.flush_for_read()
    events: list[dict[str, Any]] = []
    searched: list[dict[str, Any]] = []
    budget = {"bytes": MAX_RESPONSE, "scan": MAX_FILTER_SCAN}
    next_token: str | None = None
    while next_token is None:
        rows = await rt.store.streams(
            prefix=prefix,
            names=names,
            by_time=True,
            after=after,
            inclusive=inclusive,
            started_from=start_time,
            started_to=end_time,
            limit=20,
        )
        inclusive = False
        if not rows:
            break
        for row in rows:
            if len(searched) >= MAX_FILTER_STREAMS:
                next_token = encode_token("filter", [row.started_at, row.name, 0])
                break
            pos = 0
            if resume is not None and (row.started_at, row.name) == (resume[0], resume[1]):
                pos = resume[2]
            done, pos = await anyio.to_thread.run_sync(
                _filter_stream, rt.log_path(row.name), row, pos, match, events, limit, budget
            )
            if not done:
                next_token = encode_token("filter", [row.started_at, row.name, pos])
                break
            searched.append({"logStreamName": row.name, "searchedCompletely": True})
        after = (rows[-1].started_at or 0, rows[-1].name)
    out: dict[str, Any] = {"events": events, "searchedLogStreams": searched}
    if next_token is not None:
        out["nextToken"] = next_token
    return out


def _filter_token(token: str | None) -> tuple[int, str, int] | None:
    if token is None:
        return None
    try:
        at, name, pos = decode_token(token, "filter")
        return int(at), str(name), int(pos)
    except (ClientError, TypeError, ValueError):
        raise ApiError("The specified nextToken is invalid.", INVALID) from None


def _filter_stream(
    path: Path,
    row: StreamRow,
    pos: int,
    match: Callable[[str], bool],
    events: list[dict[str, Any]],
    limit: int,
    budget: dict[str, int],
) -> tuple[bool, int]:
    """Scan one stream from `pos`, adding matches to `events`. Returns (finished, where to
    go on from when not finished)."""
    at = row.started_at or 0
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return True, 0
    with f:
        for line in logread.scan(f, pos, row.stopped_at is not None):
            if len(events) >= limit or budget["bytes"] < line.size or budget["scan"] <= 0:
                return False, line.start
            budget["scan"] -= line.end - line.start
            if match(line.text):
                budget["bytes"] -= line.size
                events.append(
                    {
                        "logStreamName": row.name,
                        "timestamp": at,
                        "message": line.text,
                        "ingestionTime": at,
                        "eventId": f"{at:016d}{line.start:020d}{row.attempt:03d}",
                    }
                )
    return True, 0


def matcher(pattern: str) -> Callable[[str], bool]:
    """CloudWatch's text filter patterns: terms that must all appear, "quoted phrases",
    `?term` of which one must appear, `-term` that must not. Case-sensitive."""
    pattern = pattern.strip()
    if not pattern:
        return lambda _: True
    if pattern[0] in "{[%":
        raise ApiError(
            'abatch supports text filter patterns only: terms, "quoted phrases", ?any, -not',
            INVALID,
        )
    try:
        terms = shlex.split(pattern)
    except ValueError:
        raise ApiError("filterPattern has an unbalanced quote", INVALID) from None
    need = [t for t in terms if t[0] not in "?-"]
    some = [t[1:] for t in terms if t.startswith("?") and len(t) > 1]
    never = [t[1:] for t in terms if t.startswith("-") and len(t) > 1]

    def match(text: str) -> bool:
        return (
            all(t in text for t in need)
            and not any(t in text for t in never)
            and (not some or any(t in text for t in some))
        )

    return match


async def describe_log_groups(rt: Runtime, p: Params) -> dict[str, Any]:
    """The one group, when every filter given admits it. There is one account (no linked
    ones, so `includeLinkedAccounts` / `accountIdentifiers` change nothing) and one page."""
    prefix = p.text("logGroupNamePrefix")
    pattern = p.text("logGroupNamePattern")
    identifiers = p.texts("logGroupIdentifiers", max_items=50)
    group_class = p.text("logGroupClass")
    p.number("limit", lo=1, hi=50)
    p.flag("includeLinkedAccounts")  # checked, though with one account they change nothing
    p.texts("accountIdentifiers", max_items=20)
    if prefix is not None and pattern is not None:
        raise ApiError("logGroupNamePrefix and logGroupNamePattern can't both be given", INVALID)
    if identifiers is not None and (prefix is not None or pattern is not None):
        raise ApiError(
            "logGroupIdentifiers can't be combined with logGroupNamePrefix or logGroupNamePattern",
            INVALID,
        )
    if group_class is not None and group_class not in GROUP_CLASSES:
        raise ApiError(f"logGroupClass must be one of {', '.join(GROUP_CLASSES)}", INVALID)
    if p.text("nextToken") is not None:  # one group, one page: no token was ever given out
        raise ApiError("The specified nextToken is invalid.", INVALID)
    listed = (
        (prefix is None or LOG_GROUP.startswith(prefix))
        and (pattern is None or pattern in LOG_GROUP)  # case-sensitive, as AWS
        and (identifiers is None or bool(set(identifiers) & GROUP_NAMES))
        and group_class in (None, "STANDARD")
    )
    if not listed:
        return {"logGroups": []}
    group: dict[str, Any] = {
        "logGroupName": LOG_GROUP,
        "creationTime": rt.started_at,
        "arn": GROUP_ARN + ":*",
    }
    if pattern is None:  # with a pattern AWS gives only the name, creation time and ARN
        group.update(
            metricFilterCount=0, logGroupArn=GROUP_ARN, storedBytes=0, logGroupClass="STANDARD"
        )
    return {"logGroups": [group]}


OPERATIONS: dict[str, Operation] = {
    "GetLogEvents": (
        get_log_events,
        (
            "logGroupName",
            "logGroupIdentifier",
            "logStreamName",
            "startTime",
            "endTime",
            "nextToken",
            "limit",
            "startFromHead",
            "unmask",
        ),
    ),
    "DescribeLogStreams": (
        describe_log_streams,
        (
            "logGroupName",
            "logGroupIdentifier",
            "logStreamNamePrefix",
            "orderBy",
            "descending",
            "nextToken",
            "limit",
        ),
    ),
    "FilterLogEvents": (
        filter_log_events,
        (
            "logGroupName",
            "logGroupIdentifier",
            "logStreamNames",
            "logStreamNamePrefix",
            "startTime",
            "endTime",
            "filterPattern",
            "nextToken",
            "limit",
            "startFromHead",
            "interleaved",
            "unmask",
        ),
    ),
    "DescribeLogGroups": (
        describe_log_groups,
        (
            "accountIdentifiers",
            "logGroupNamePrefix",
            "logGroupNamePattern",
            "nextToken",
            "limit",
            "includeLinkedAccounts",
            "logGroupClass",
            "logGroupIdentifiers",
        ),
    ),
}
