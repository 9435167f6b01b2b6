"""A job submitted through boto3, run by real processes, its log read back through the
CloudWatch Logs client: GetLogEvents (head, tail, tokens, limits), DescribeLogStreams,
FilterLogEvents; and the log reader on awkward files."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pytest
from botocore.exceptions import ClientError as BotoClientError

from abatch.api import logread
from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.runspec import RunSpec

from .helpers import Api, api_runtime
from .test_jobs import finished

GROUP = "/aws/batch/job"


async def run_job(api: Api, name: str, script: str) -> dict[str, Any]:
    await api.batch(
        "register_job_definition",
        jobDefinitionName=name,
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["sh", "-c", script],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "64"},
            ],
        },
    )
    out = await api.batch("submit_job", jobName=name, jobQueue="q", jobDefinition=name)
    await finished(api, out["jobId"])
    (job,) = (await api.batch("describe_jobs", jobs=[out["jobId"]]))["jobs"]
    return dict(job)


async def logs_error(api: Api, op: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(BotoClientError) as info:
        await api.logs(op, **params)
    err = info.value.response["Error"]
    return str(err["Code"]), str(err["Message"])


async def test_job_log_read_through_the_logs_client(tmp_path: Path) -> None:
    async with api_runtime(tmp_path) as api:  # real processes
        job = await run_job(
            api, "echo", "for i in $(seq 1 30); do echo line $i; done; echo err >&2"
        )
        assert job["status"] == "SUCCEEDED"
        stream = job["container"]["logStreamName"]
        started = job["startedAt"]

        head = await api.logs(
            "get_log_events", logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=10
        )
        assert [e["message"] for e in head["events"]] == [f"line {i}" for i in range(1, 11)]
        assert all(e["timestamp"] == started == e["ingestionTime"] for e in head["events"])
        assert head["nextForwardToken"].startswith("f/")
        assert head["nextBackwardToken"].startswith("b/")
        messages = [e["message"] for e in head["events"]]
        token = head["nextForwardToken"]
        while True:
            page = await api.logs(
                "get_log_events", logGroupName=GROUP, logStreamName=stream, nextToken=token, limit=7
            )
            messages += [e["message"] for e in page["events"]]
            if page["nextForwardToken"] == token:  # AWS's end-of-stream signal
                break
            token = page["nextForwardToken"]
        assert messages == [f"line {i}" for i in range(1, 31)] + ["err"]

        tail = await api.logs("get_log_events", logGroupName=GROUP, logStreamName=stream, limit=3)
        assert [e["message"] for e in tail["events"]] == ["line 29", "line 30", "err"]
        back = await api.logs(
            "get_log_events",
            logGroupName=GROUP,
            logStreamName=stream,
            limit=2,
            nextToken=tail["nextBackwardToken"],
        )
        assert [e["message"] for e in back["events"]] == ["line 27", "line 28"]
        late = await api.logs(
            "get_log_events", logGroupName=GROUP, logStreamName=stream, startTime=started + 1
        )
        assert late["events"] == []

        streams = await api.logs(
            "describe_log_streams", logGroupName=GROUP, logStreamNamePrefix="echo/"
        )
        (info,) = streams["logStreams"]
        assert info["logStreamName"] == stream and info["firstEventTimestamp"] == started
        assert info["arn"].endswith(f":log-group:{GROUP}:log-stream:{stream}")

        found = await api.logs(
            "filter_log_events", logGroupName=GROUP, filterPattern='"line 2" -"line 20"'
        )
        assert [e["message"] for e in found["events"]] == [
            "line 2",
            *[f"line {i}" for i in range(21, 30)],
        ]
        assert found["events"][0]["logStreamName"] == stream
        assert found["searchedLogStreams"] == [
            {"logStreamName": stream, "searchedCompletely": True}
        ]


async def test_logs_errors(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        code, msg = await logs_error(
            api, "get_log_events", logGroupName=GROUP, logStreamName="d/default/" + "0" * 32
        )
        assert (code, msg) == (
            "ResourceNotFoundException",
            "The specified log stream does not exist.",
        )
        code, _ = await logs_error(api, "get_log_events", logGroupName="/other", logStreamName="x")
        assert code == "ResourceNotFoundException"
        code, _ = await logs_error(
            api,
            "describe_log_streams",
            logGroupName=GROUP,
            orderBy="LastEventTime",
            logStreamNamePrefix="d",
        )
        assert code == "InvalidParameterException"
        code, msg = await logs_error(
            api, "filter_log_events", logGroupName=GROUP, filterPattern="{ $.x = 1 }"
        )
        assert code == "InvalidParameterException" and "text filter patterns" in msg
        code, _ = await logs_error(api, "create_log_group", logGroupName="x")
        assert code == "UnknownOperationException"
        groups = await api.logs("describe_log_groups")
        assert [g["logGroupName"] for g in groups["logGroups"]] == [GROUP]


async def test_describe_log_groups_applies_every_filter(tmp_path: Path) -> None:
    """The one group is listed only when each filter given admits it, as AWS filters."""
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/batch/job"

    async def names(**params: Any) -> list[str]:
        out = await api.logs("describe_log_groups", **params)
        return [g["logGroupName"] for g in out["logGroups"]]

    async with api_runtime(tmp_path, FakeExecutor()) as api:
        assert await names(logGroupNamePrefix="/aws/batch") == [GROUP]
        assert await names(logGroupNamePrefix="/other") == []
        assert await names(logGroupNamePattern="batch") == [GROUP]
        assert await names(logGroupNamePattern="BATCH") == []  # case-sensitive
        (only,) = (await api.logs("describe_log_groups", logGroupNamePattern="job"))["logGroups"]
        assert set(only) == {"logGroupName", "creationTime", "arn"}  # AWS's pattern answer
        assert await names(logGroupIdentifiers=[GROUP]) == [GROUP]
        assert await names(logGroupIdentifiers=[arn]) == [GROUP]
        assert await names(logGroupIdentifiers=["/aws/other"]) == []
        assert await names(logGroupClass="STANDARD", limit=1) == [GROUP]
        assert await names(logGroupClass="INFREQUENT_ACCESS") == []
        for params in (
            {"logGroupNamePrefix": "/aws", "logGroupNamePattern": "job"},
            {"logGroupIdentifiers": [GROUP], "logGroupNamePrefix": "/aws"},
            {"nextToken": "x"},
        ):
            code, _ = await logs_error(api, "describe_log_groups", **params)
            assert code == "InvalidParameterException", params
        # Types boto3 would not send: the server names the field itself.
        for body, field in (
            ({"includeLinkedAccounts": "x"}, "includeLinkedAccounts"),
            ({"accountIdentifiers": "123456789012"}, "accountIdentifiers"),
            ({"accountIdentifiers": ["1"] * 21}, "accountIdentifiers"),
        ):
            status, answer = await anyio.to_thread.run_sync(raw_logs, api.url, body)
            assert status == 400, body
            assert answer["__type"].endswith("InvalidParameterException"), answer
            assert field in answer["message"], answer


async def test_stream_pages_and_filter_pages(tmp_path: Path) -> None:
    def script(spec: RunSpec) -> FakeOutcome:
        return FakeOutcome(log=b"".join(b"%s %d\n" % (spec.key.encode(), i) for i in range(5)))

    async with api_runtime(tmp_path, FakeExecutor(script)) as api:
        ids = [
            (await api.batch("submit_job", jobName=f"j{i}", jobQueue="q", jobDefinition="d"))[
                "jobId"
            ]
            for i in range(3)
        ]
        for job_id in ids:
            await finished(api, job_id)
        logs = await api.logs_client()
        pages = await api.run(
            lambda: list(
                logs.get_paginator("describe_log_streams").paginate(
                    logGroupName=GROUP, PaginationConfig={"PageSize": 2}
                )
            )
        )
        names = [s["logStreamName"] for p in pages for s in p["logStreams"]]
        assert len(pages) == 2 and len(names) == 3 and names == sorted(names)
        events = await api.run(
            lambda: [
                e
                for p in logs.get_paginator("filter_log_events").paginate(
                    logGroupName=GROUP, PaginationConfig={"PageSize": 4}
                )
                for e in p["events"]
            ]
        )
        assert len(events) == 15
        assert len({e["eventId"] for e in events}) == 15


def test_reader_holds_back_an_unfinished_line_and_cuts_huge_ones(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"a\r\nb\n" + b"x" * (logread.MAX_EVENT + 10) + b"\nc\npartial")
    lines, end = logread.read_forward(path, 0, 100, 10**9, final=False)
    assert [len(x.text) for x in lines] == [1, 1, logread.MAX_EVENT, 1]
    assert lines[0].text == "a" and lines[-1].text == "c"
    assert end == path.stat().st_size - len(b"partial")
    lines, _ = logread.read_forward(path, end, 100, 10**9, final=True)
    assert [x.text for x in lines] == ["partial"]
    assert logread.boundary(path, final=False) == end
    back, start = logread.read_backward(path, end, 2, 10**9)
    assert [len(x.text) for x in back] == [logread.MAX_EVENT, 1] and start == 5
    assert logread.read_forward(tmp_path / "missing", 0, 10, 100, True) == ([], 0)


def raw_logs(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """DescribeLogGroups with `body` as sent, past boto3's own type checks."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        conn.request(
            "POST",
            "/",
            body=json.dumps(body).encode(),
            headers={
                "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                "Content-Type": "application/x-amz-json-1.1",
            },
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()
