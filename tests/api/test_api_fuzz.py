"""Hostile input, at scale, against every operation the real server routes.

One runtime serves its API on a loopback port; hypothesis, in a worker thread, sends raw HTTP
(http.client, no SDK to tidy the input up) with bodies built by tests/api/fuzz_support.py:
wrong types in every member, members missing, 1 MB strings, 20,000-item arrays, path
traversal, NUL, newlines, lone surrogates, very long ARNs, numbers past 64 bits, NaN.

Every answer must be 2xx or 4xx, JSON, and an error must have AWS's shape (`__type` and a
`message`; `x-amzn-ErrorType` for Batch). Around each request the test snapshots every
resource, policy and tag and the seeded jobs; a refused request must leave the snapshot as it
was. At the end the database passes `PRAGMA integrity_check` and, reopened by a fresh runtime,
every stored resource and job still describes through the API.

The operations come from the server itself (its router's single catch-all route, and the
tables it dispatches on), so a new operation is fuzzed without touching this file, unless its
body is validated by a model: then `fuzz_support.MODEL_BASES` needs a base body, and
`test_every_route_has_a_strategy` fails until it has one.

Reproducible: `derandomize=True`, no example database. `ABATCH_FUZZ_SCALE=N` runs N times
as many examples (a longer hunt than CI's).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio
import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abatch.api import logs as logs_api
from abatch.api import server
from abatch.api.resources import compute_environment_detail
from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.errors import ClientError
from abatch.model.runspec import RunSpec
from abatch.runtime import Runtime
from abatch.store.sqlite import DB_NAME
from tests.runtime.helpers import req, wait_status

from . import fuzz_support as fz
from .helpers import Api, api_runtime

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
# ABATCH_FUZZ_SCALE=20 for a longer hunt than CI's (the same examples, then more).
SCALE = int(os.environ.get("ABATCH_FUZZ_SCALE", "1"))
EXAMPLES = 12 * SCALE  # per operation; about 50 operations
DEEP_EXAMPLES = 40 * SCALE  # operations whose body a model validates: more to reach into
REFUSED_EXAMPLES = 2  # operations abatch refuses outright
READS_FIRST = ("Describe", "List", "Get", "Submit", "Create", "Register", "Tag")


def script(spec: RunSpec) -> FakeOutcome:
    """Seeded jobs finish at once with a log; anything else runs until killed."""
    if spec.env.get("SEED") == "1":
        return FakeOutcome(log=b"hello\nworld\n")
    return FakeOutcome(duration=None)


# ---------------------------------------------------------------------- raw HTTP


class Wire:
    """Blocking raw HTTP to the server, from the hypothesis thread."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80

    def send(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            try:
                conn.request(method, path, body=body, headers=headers or {})
            except ConnectionError:
                # The server refused a body over its limit from Content-Length alone, or a
                # request line past its limit, and closed the connection while the body was
                # still going out (test_oversized_bodies_and_lengths and
                # test_malformed_requests check those answers).
                too_big = len(body) > server.MAX_BODY or len(path) > server.MAX_LINE
                assert too_big, f"connection dropped: {len(path)}-byte path, {len(body)} bytes"
                dropped = {"x-amzn-requestid": "-", "x-amzn-errortype": "-"}
                return 400, dropped, b'{"__type": "-", "message": "-"}'
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()


def encode(body: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \ud800 escapes, which JSON allows; allow_nan
    # sends NaN / Infinity, which Python's own json reader takes.
    return json.dumps(body).encode()


def check_answer(status: int, headers: dict[str, str], data: bytes, *, logs: bool = False) -> Any:
    what = f"{status} {data[:300]!r}"
    assert status < 500, what
    assert 200 <= status < 300 or 400 <= status < 500, what
    assert headers.get("x-amzn-requestid"), what
    doc = json.loads(data)
    assert isinstance(doc, dict), what
    if status >= 400:
        assert isinstance(doc.get("__type"), str) and doc["__type"], what
        assert isinstance(doc.get("message"), str) and doc["message"].strip(), what
        assert "Traceback" not in doc["message"], what
        assert len(doc["message"]) <= 2000, f"a message echoing a huge value: {what}"
        if not logs:
            assert headers.get("x-amzn-errortype") == doc["__type"], what
    return doc


# ---------------------------------------------------------------------- state


async def snapshot(rt: Runtime, seed: dict[str, Any]) -> str:
    """Everything a refused request must leave as it was, as one comparable text."""
    reg = rt.registry
    tags: dict[str, Any] = {}
    for arn in seed["arns"]:
        try:
            tags[arn] = await rt.list_tags(arn)
        except ClientError as exc:
            tags[arn] = f"gone: {exc}"
    out = {
        "ce": {n: compute_environment_detail(c, rt) for n, c in reg.compute_environments.items()},
        "jq": {n: q.to_aws() for n, q in reg.job_queues.items()},
        "jd": {n: [reg.aws_of(d) for d in revs] for n, revs in reg.job_definitions.items()},
        "sp": [p.to_aws() for p in await rt.store.scheduling_policies()],
        "jobs": await rt.describe_jobs(seed["jobs"]),
        "tags": tags,
    }
    return json.dumps(out, sort_keys=True, default=str)


async def seed_runtime(api: Api) -> dict[str, Any]:
    """Resources, finished jobs with a log stream, and spares that deletes may take."""
    b = api.batch
    container = {
        "image": "busybox",
        "command": ["true"],
        "environment": [{"name": "SEED", "value": "1"}],
        "resourceRequirements": [
            {"type": "VCPU", "value": "1"},
            {"type": "MEMORY", "value": "64"},
        ],
    }
    await b("register_job_definition", jobDefinitionName="seed", type="container",
            containerProperties=container, tags={"owner": "seed"})  # fmt: skip
    await b("register_job_definition", jobDefinitionName="spared", type="container",
            containerProperties=container)  # fmt: skip
    await b(
        "register_job_definition",
        jobDefinitionName="mn",
        type="multinode",
        nodeProperties={
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [{"targetNodes": "0:", "container": container}],
        },
    )
    policy = await b("create_scheduling_policy", name="sp", tags={"owner": "seed"},
                     fairsharePolicy={"shareDecaySeconds": 0, "shareDistribution": []})  # fmt: skip
    spare_policy = await b("create_scheduling_policy", name="spare-sp")
    ce = await b("create_compute_environment", computeEnvironmentName="spare", type="MANAGED",
                 state="DISABLED", computeResources={"type": "EC2", "maxvCpus": 2})  # fmt: skip
    await b("create_job_queue", jobQueueName="spareq", priority=1, state="DISABLED",
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])  # fmt: skip
    records = [
        await api.rt.submit(req(f"seed{i}", definition="seed", tags={"n": str(i)}))
        for i in range(3)
    ]
    await wait_status(api.rt, records, timeout=60)
    jobs = [r.job_id for r in records]
    described = (await b("describe_jobs", jobs=jobs))["jobs"]
    assert all(j["status"] == "SUCCEEDED" for j in described)
    queue = (await b("describe_job_queues", jobQueues=["q"]))["jobQueues"][0]
    jd = (await b("describe_job_definitions", jobDefinitions=["seed:1"]))["jobDefinitions"][0]
    return {
        "jobs": jobs,
        "stream": described[0]["container"]["logStreamName"],
        "started_at": described[0]["startedAt"],
        "queue_arn": queue["jobQueueArn"],
        "ce_arn": ce["computeEnvironmentArn"],
        "jd_arn": jd["jobDefinitionArn"],
        "policy_arn": policy["arn"],
        "spare_policy_arn": spare_policy["arn"],
        "arns": [
            queue["jobQueueArn"],
            ce["computeEnvironmentArn"],
            jd["jobDefinitionArn"],
            policy["arn"],
            *(j["jobArn"] for j in described),
        ],
    }


class Fuzzer:
    """Sends one request and checks the answer and, when it was refused, the state."""

    def __init__(self, api: Api, seed: dict[str, Any]) -> None:
        self.api = api
        self.seed = seed
        self.wire = Wire(api.url)
        self.counts: dict[str, dict[int, int]] = {}
        self._unchanged: str | None = None  # the state after the last refused request

    def state(self) -> str:
        return anyio.from_thread.run(snapshot, self.api.rt, self.seed)

    def exchange(
        self,
        label: str,
        method: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        *,
        logs: bool = False,
    ) -> None:
        before = self._unchanged or self.state()
        self._unchanged = None
        status, got, data = self.wire.send(method, path, body, headers)
        check_answer(status, got, data, logs=logs)
        bucket = self.counts.setdefault(label, {})
        bucket[status // 100] = bucket.get(status // 100, 0) + 1
        if status >= 400:
            after = self.state()
            assert after == before, f"{label}: a refused request changed the state ({data!r})"
            self._unchanged = after

    def run(self, label: str, examples: int, strategy: st.SearchStrategy[Any],
            send: Callable[[Any], None]) -> None:  # fmt: skip
        @settings(FUZZ, max_examples=examples)
        @given(strategy)
        def prop(value: Any) -> None:
            send(value)

        prop()


# ---------------------------------------------------------------------- routes


def routes() -> list[tuple[str, str]]:
    """(kind, operation) for everything the server answers: Batch operations at /v1/<op>,
    the tag operations at /v1/tags/{arn}, CloudWatch Logs targets, the refused ones."""
    out = [("batch", op) for op in server.OPERATIONS]
    out += [("unsupported", op) for op in server.UNSUPPORTED]
    out += [("tags", m) for m in ("GET", "POST", "DELETE")]
    out += [("logs", op) for op in logs_api.OPERATIONS]
    return out


def ordered(ops: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Reads and creations first, updates and deletes last, so the seeded resources serve
    most of the run."""

    def rank(item: tuple[str, str]) -> int:
        op = item[1]
        return next((i for i, p in enumerate(READS_FIRST) if op.startswith(p)), len(READS_FIRST))

    return sorted(ops, key=rank)


def test_every_route_has_a_strategy() -> None:
    """The server has no router: `ApiServer._route` dispatches on the tables `routes()` reads.
    Every Batch operation whose body a model validates has a base body to mutate."""
    seed: dict[str, Any] = {
        k: "x"
        for k in ("stream", "queue_arn", "ce_arn", "jd_arn", "policy_arn", "spare_policy_arn")
    }
    seed.update(jobs=["x"], started_at=0)
    bases = fz.model_bases(seed)
    missing = [op for op, (_, allowed) in server.OPERATIONS.items() if allowed is None
               and op not in bases]  # fmt: skip
    assert not missing, f"model-validated operations without a base body: {missing}"
    assert not [op for op, (_, allowed) in logs_api.OPERATIONS.items() if allowed is None]
    assert {kind for kind, _ in routes()} == {"batch", "unsupported", "tags", "logs"}
    assert len(routes()) == len(server.OPERATIONS) + len(server.UNSUPPORTED) + 3 + len(
        logs_api.OPERATIONS
    )


@pytest.mark.timeout(120 * SCALE)
async def test_hostile_bodies_on_every_operation(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor(script)) as api:
        seed = await seed_runtime(api)
        fuzzer = Fuzzer(api, seed)

        def drive() -> None:
            for kind, op in ordered(routes()):
                if kind == "batch":
                    allowed = server.OPERATIONS[op][1]
                    n = EXAMPLES if allowed is not None else DEEP_EXAMPLES
                    fuzzer.run(op, n, st.data(), lambda d, op=op, allowed=allowed:
                               send_batch(fuzzer, d, op, allowed))  # fmt: skip
                elif kind == "logs":
                    allowed = logs_api.OPERATIONS[op][1]
                    fuzzer.run(op, EXAMPLES, st.data(), lambda d, op=op, allowed=allowed:
                               send_logs(fuzzer, d, op, allowed))  # fmt: skip
                elif kind == "tags":
                    fuzzer.run(f"tags {op}", EXAMPLES, st.data(),
                               lambda d, m=op: send_tags(fuzzer, d, m))  # fmt: skip
                else:
                    fuzzer.run(op, REFUSED_EXAMPLES, fz.hostile, lambda v, op=op: fuzzer.exchange(
                        op, "POST", f"/v1/{op.lower()}", encode(v), {}))  # fmt: skip

        await anyio.to_thread.run_sync(drive)
        # The fuzz reached past the first check: some requests of most operations succeeded.
        print(fuzzer.counts)
        accepted = [op for op, c in fuzzer.counts.items() if c.get(2)]
        assert {"SubmitJob", "RegisterJobDefinition", "CreateJobQueue", "GetLogEvents"} <= set(
            accepted
        ), fuzzer.counts
        await api.rt.store.flush()
        seed_jobs = seed["jobs"]
    await reopened_consistent(tmp_path, seed_jobs)


def send_batch(
    fuzzer: Fuzzer, data: st.DataObject, op: str, allowed: tuple[str, ...] | None
) -> None:
    body = fz.body_for(data, op, allowed, fuzzer.seed)
    ctype = data.draw(fz.content_types)
    headers = {"Content-Type": ctype} if ctype else {}
    fuzzer.exchange(op, "POST", f"/v1/{op.lower()}", encode(body), headers)


def send_logs(
    fuzzer: Fuzzer, data: st.DataObject, op: str, allowed: tuple[str, ...] | None
) -> None:
    body = fz.body_for(data, op, allowed, fuzzer.seed)
    headers = {
        "X-Amz-Target": f"Logs_20140328.{op}",
        "Content-Type": "application/x-amz-json-1.1",
    }
    fuzzer.exchange(op, "POST", "/", encode(body), headers, logs=True)


def send_tags(fuzzer: Fuzzer, data: st.DataObject, method: str) -> None:
    arn = data.draw(st.sampled_from(fuzzer.seed["arns"]) | fz.texts, label="arn")
    how = data.draw(st.sampled_from(["strict", "loose", "twice"]))
    path = fz.tag_path(arn, how)
    body = b""
    if method == "POST":
        tags = data.draw(
            st.sampled_from([{"k": "v"}, {"abatch:memory": "2048"}, {"abatch:gpus": "x"}])
            | fz.hostile,
            label="tags",
        )
        extra = data.draw(st.dictionaries(fz.texts, fz.hostile, max_size=1))
        body = encode({"tags": tags, **extra})
    elif method == "DELETE":
        keys = data.draw(st.lists(fz.texts, max_size=60), label="tagKeys")
        pairs = [("tagKeys", k) for k in keys]
        pairs += data.draw(st.lists(st.tuples(fz.texts, fz.texts), max_size=2))
        path += "?" + urlencode(pairs, errors="surrogatepass")
    fuzzer.exchange(f"tags {method}", method, path, body, {"Content-Type": "application/json"})


# ---------------------------------------------------------------------- afterwards


async def reopened_consistent(tmp_path: Path, seed_jobs: list[str]) -> None:
    """The database is sound, and a new runtime on it describes everything it holds."""
    db = tmp_path / "state" / DB_NAME
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        job_ids = [r[0] for r in conn.execute("SELECT job_id FROM jobs")]
    finally:
        conn.close()
    assert set(seed_jobs) <= set(job_ids)
    async with api_runtime(tmp_path, FakeExecutor(script), setup=False) as api:
        b = api.batch
        ces = (await b("describe_compute_environments"))["computeEnvironments"]
        queues = (await b("describe_job_queues"))["jobQueues"]
        assert {"ce", "q"} <= {c["computeEnvironmentName"] for c in ces} | {
            q["jobQueueName"] for q in queues
        }
        paginator = api.batch_client.get_paginator("describe_job_definitions")
        pages = await api.run(lambda: list(paginator.paginate()))
        assert sum(len(p["jobDefinitions"]) for p in pages) >= 3
        for policy in (await b("list_scheduling_policies"))["schedulingPolicies"]:
            await b("describe_scheduling_policies", arns=[policy["arn"]])
        found: list[dict[str, Any]] = []
        for i in range(0, len(job_ids), 100):
            found += (await b("describe_jobs", jobs=job_ids[i : i + 100]))["jobs"]
        assert {j["jobId"] for j in found} == set(job_ids)
        for queue in queues:
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "RUNNING", "SUCCEEDED", "FAILED"):
                await b("list_jobs", jobQueue=queue["jobQueueName"], jobStatus=status)


MALFORMED: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("POST", "/v1/submitjob", b"{not json", {}),
    ("POST", "/v1/submitjob", b"\xff\xfe\x00garbage", {}),
    ("POST", "/v1/submitjob", b"[1, 2]", {}),
    ("POST", "/v1/submitjob", b'"a string"', {}),
    ("POST", "/v1/submitjob", b"null", {}),
    ("POST", "/v1/describejobs", b'{"jobs": ["a"]} trailing', {}),
    ("POST", "/v1/describejobs", b'{"jobs": ["a"], "jobs": 5}', {}),
    ("POST", "/v1/describejobs", b'{"jobs": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", {}),
    ("POST", "/v1/describejobs", b"\x00" * 1000, {"Content-Type": "application/octet-stream"}),
    ("POST", "/v1/describejobs", b'{"jobs": ["\\ud800"]}', {}),
    ("POST", "/v1/describejobs", b'{"jobs": [1e999]}', {}),
    ("POST", "/v1/describejobs", b"{}", {"Content-Type": "text/html; charset=\x7f"}),
    ("GET", "/v1/submitjob", b"", {}),
    ("PUT", "/v1/submitjob", b"{}", {}),
    ("DELETE", "/v1/describejobs", b"", {}),
    ("POST", "/v1/", b"{}", {}),
    ("POST", "/v1/../../etc/passwd", b"{}", {}),
    ("POST", "/v1/%2e%2e%2fsubmitjob", b"{}", {}),
    ("POST", "/v1/submitjob%00", b"{}", {}),
    ("POST", "/v1/" + "x" * 6000, b"{}", {}),
    ("POST", "/v1/tags/", b"{}", {}),
    ("PATCH", "/v1/tags/arn%3Ax", b"{}", {}),
    ("GET", "/v1/tags/%ff%fe", b"", {}),
    ("GET", "/v1/tags/arn%00", b"", {}),
    ("POST", "/", b"{}", {"X-Amz-Target": "Logs_20140328.PutLogEvents"}),
    ("POST", "/", b"{}", {"X-Amz-Target": "Logs_20140328."}),
    ("POST", "/", b"{}", {"X-Amz-Target": "../../etc/passwd"}),
    ("GET", "/", b"", {"X-Amz-Target": "Logs_20140328.GetLogEvents"}),
    ("POST", "/", b"[]", {"X-Amz-Target": "Logs_20140328.GetLogEvents"}),
    ("POST", "/", b"", {}),
    ("POST", "/v1/submitjob", b"{}", {"Content-Encoding": "gzip"}),
    ("POST", "/v1/submitjob", b"{}", {"Content-Encoding": "br"}),
    ("POST", "/v1/describejobs", b'{"jobs": []}', {"Transfer-Encoding": "chunked"}),
    ("POST", "/v1/describejobs", b'{"jobs": []}', {"X-" + "h" * 70_000: "1"}),
    ("POST", "/v1/describejobs", b'{"jobs": []}', {"X-Long": "v" * 70_000}),
    ("POST", "/v1/tags/" + "a" * 70_000, b"{}", {}),
    ("POST", "/v1/describejobs", b'{"jobs": [NaN]}', {}),
    ("POST", "/v1/describejobs", b'{"jobs": ["a"], "x": Infinity}', {}),
]


async def test_malformed_requests(tmp_path: Path) -> None:
    """Bodies that are not JSON objects, bodies aiohttp cannot read, methods and paths that
    name no operation, headers and request lines past the limits: each a 4xx in AWS's
    JSON error shape."""
    async with api_runtime(tmp_path) as api:
        wire = Wire(api.url)

        def run() -> list[str]:
            wrong = []
            for method, path, body, headers in MALFORMED:
                try:
                    status, got, data = wire.send(method, path, body, headers)
                    check_answer(status, got, data, logs="X-Amz-Target" in headers)
                except (AssertionError, ValueError, OSError) as exc:
                    wrong.append(f"{method} {path[:60]} {body[:40]!r} {headers!r:.80}: {exc!r}")
            return wrong

        assert await anyio.to_thread.run_sync(run) == []


async def test_oversized_bodies_and_lengths(tmp_path: Path) -> None:
    """A body past the limit, a Content-Length that claims gigabytes, a chunked body that
    never ends within the limit: each a 400, and the runtime still answers afterwards."""
    async with api_runtime(tmp_path) as api:
        wire = Wire(api.url)

        def run() -> None:
            for path, size in (("/v1/submitjob", 31 * 1024), ("/v1/describejobs", 1025 * 1024),
                               ("/v1/registerjobdefinition", 25 * 1024)):  # fmt: skip
                body = encode({"jobName": "x" * size})
                status, got, data = wire.send("POST", path, body, {})
                assert status == 400
                assert "KiB" in check_answer(status, got, data)["message"]
            # A Content-Length of 10 GB with a small body: refused before reading.
            conn = http.client.HTTPConnection(wire.host, wire.port, timeout=30)
            try:
                conn.putrequest("POST", "/v1/describejobs")
                conn.putheader("Content-Length", str(10 * 1024**3))
                conn.endheaders()
                conn.send(b'{"jobs": []}')
                resp = conn.getresponse()
                check_answer(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                             resp.read())  # fmt: skip
                assert resp.status == 400
            finally:
                conn.close()
            # Chunked, 2 MiB in 64 KiB chunks.
            conn = http.client.HTTPConnection(wire.host, wire.port, timeout=30)
            try:
                conn.request("POST", "/v1/describejobs",
                             body=iter([b"x" * 65536] * 32), encode_chunked=True)  # fmt: skip
                resp = conn.getresponse()
                check_answer(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                             resp.read())  # fmt: skip
                assert resp.status == 400
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered and closed before the body was all sent
            finally:
                conn.close()
            status, got, data = wire.send("POST", "/v1/describejobs", encode({"jobs": []}), {})
            assert status == 200, data

        await anyio.to_thread.run_sync(run)


async def test_a_stalled_body_is_given_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that stops arriving (a client that stalls, or a chunked body whose next chunk
    header is malformed after the first part was read, which aiohttp never reports to the
    reader) is answered 400 once nothing more came for BODY_IDLE_S, not held open forever."""
    monkeypatch.setattr(server, "BODY_IDLE_S", 0.5)
    async with api_runtime(tmp_path) as api:
        wire = Wire(api.url)

        def stalled(head: bytes, rest: bytes) -> bytes:
            with socket.create_connection((wire.host, wire.port), timeout=30) as sock:
                sock.sendall(head)
                time.sleep(0.2)  # let the request reach the handler before the rest
                sock.sendall(rest)
                return sock.recv(65536)

        short = await anyio.to_thread.run_sync(
            stalled,
            b"POST /v1/describejobs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
            b'{"jobs": [',
        )
        chunked = await anyio.to_thread.run_sync(
            stalled,
            b"POST /v1/describejobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\n{}\r\n",
            b"zz\r\n",
        )
        for answer in (short, chunked):
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer[:300]
            assert json.loads(body)["__type"] == "ClientException"
        assert b"stopped arriving" in short
