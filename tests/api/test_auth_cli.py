"""Authentication (SigV4 with the runtime's own credentials), the `aws` CLI against the
endpoint, and abatch's own client."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError as BotoClientError

from abatch.api import serve_api
from abatch.client import ApiClient, ApiConnectionError, find_runtime
from abatch.client.sigv4 import load_credentials
from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.errors import ClientError, StateDirError
from abatch.model.runspec import RunSpec
from tests.runtime.helpers import runtime

from .helpers import Api, api_runtime, client, serving
from .test_protocol import send

AWS = Path(sys.executable).parent / "aws"


async def test_auth_accepts_the_runtime_credentials_and_refuses_anything_else(
    tmp_path: Path,
) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt, serving(rt, auth=True) as url:
        path = rt.state_dir / "credentials.json"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        creds = load_credentials(rt.state_dir)
        assert creds is not None
        good = Api(
            rt,
            url,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
        )
        await good.clients()
        out = await good.batch("describe_job_queues")
        assert [q["jobQueueName"] for q in out["jobQueues"]] == ["high", "q"]
        arn = "arn:aws:batch:us-east-1:123456789012:job-queue/q"
        await good.batch("tag_resource", resourceArn=arn, tags={"a": "b"})  # encoded path
        await good.batch("untag_resource", resourceArn=arn, tagKeys=["a", "b c"])  # query
        assert (await good.logs("describe_log_groups"))["logGroups"]

        bad = Api(
            rt,
            url,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key="wrong" * 8,
        )
        await bad.clients()
        with pytest.raises(BotoClientError) as info:
            await bad.batch("describe_job_queues")
        err = info.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert err["Error"]["Code"] == "InvalidSignatureException"
        assert err["Error"]["Message"].startswith(
            "The request signature we calculated does not match the signature you provided."
        )
        with pytest.raises(BotoClientError) as info:
            await bad.logs("describe_log_groups")
        assert info.value.response["Error"]["Code"] == "InvalidSignatureException"

        stranger = Api(rt, url)  # the test suite's dummy key
        await stranger.clients()
        with pytest.raises(BotoClientError) as info:
            await stranger.batch("describe_job_queues")
        assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"

        status, headers, doc = await send(url, "POST", "/v1/describejobqueues", {})
        assert (
            status == 403 and headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        )

        # The same signed request with its body changed fails the signature.
        tampered = {**_signed(url, creds), "body": {"jobQueues": ["high"]}}
        status, _, doc = await send(
            url, "POST", "/v1/describejobqueues", tampered["body"], tampered["headers"]
        )
        assert status == 403 and doc["__type"] == "InvalidSignatureException"

        api_client = ApiClient.for_state_dir(rt.state_dir)
        assert api_client is not None and api_client.credentials == creds
        queues = await anyio.to_thread.run_sync(api_client.describe_job_queues)
        assert len(queues) == 2


def _signed(url: str, creds: Any) -> dict[str, Any]:
    from abatch.client.sigv4 import sign

    body = json.dumps({}).encode()
    headers = sign(
        creds,
        method="POST",
        url=url + "/v1/describejobqueues",
        headers={"Content-Type": "application/json"},
        body=body,
        service="batch",
    )
    return {"headers": headers, "body": body}


async def test_credentials_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        assert load_credentials(rt.state_dir, create=True) is not None
        os.chmod(rt.state_dir / "credentials.json", 0o644)
        with pytest.raises(StateDirError, match="chmod 600"):
            await serve_api(rt, "127.0.0.1", 0, auth=True)


async def test_aws_cli(tmp_path: Path) -> None:
    def hello(_: RunSpec) -> FakeOutcome:
        return FakeOutcome(log=b"hello\nworld\n")

    async with api_runtime(tmp_path, FakeExecutor(hello)) as api:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "y",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

        async def aws(*args: str, check: bool = True) -> Any:
            proc = await anyio.run_process(
                [str(AWS), *args, "--endpoint-url", api.url, "--output", "json"],
                env=env,
                check=False,
            )
            if check:
                assert proc.returncode == 0, proc.stderr.decode()
                return json.loads(proc.stdout or b"{}")
            return proc

        queues = await aws("batch", "describe-job-queues")
        assert [q["jobQueueName"] for q in queues["jobQueues"]] == ["high", "q"]
        job = await aws(
            "batch", "submit-job", "--job-name", "cli", "--job-queue", "q", "--job-definition", "d"
        )
        await _finished(api, job["jobId"])
        listed = await aws("batch", "list-jobs", "--job-queue", "q", "--job-status", "SUCCEEDED")
        assert [j["jobId"] for j in listed["jobSummaryList"]] == [job["jobId"]]
        (detail,) = (await aws("batch", "describe-jobs", "--jobs", job["jobId"]))["jobs"]
        events = await aws(
            "logs",
            "get-log-events",
            "--log-group-name",
            "/aws/batch/job",
            "--log-stream-name",
            detail["container"]["logStreamName"],
            "--start-from-head",
        )
        assert [e["message"] for e in events["events"]] == ["hello", "world"]
        failed = await aws("batch", "cancel-job", "--job-id", "nope", "--reason", "x", check=False)
        assert failed.returncode != 0
        assert b"ClientException" in failed.stderr and b"does not exist" in failed.stderr


async def _finished(api: Api, job_id: str) -> None:
    from tests.runtime.helpers import wait_for

    await wait_for(api.rt, lambda: job_id not in api.rt.jobs)


async def test_api_client_and_find_runtime(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        assert find_runtime(rt.state_dir) is None
        async with serving(rt) as url:
            assert find_runtime(rt.state_dir) == url
            c = ApiClient.for_state_dir(rt.state_dir)
            assert c is not None and c.credentials is None

            def work() -> None:
                assert c is not None
                job = c.submit_job("c", "q", "d", parameters={"a": "b"})
                assert c.describe_jobs([job["jobId"]])[0]["parameters"] == {"a": "b"}
                with pytest.raises(ClientError, match="job queue 'nope' does not exist"):
                    c.submit_job("c", "nope", "d")
                arn = "arn:aws:batch:us-east-1:123456789012:job-queue/q"
                c.tag_resource(arn, {"k": "v", "x": "y"})
                c.untag_resource(arn, ["x"])
                assert c.list_tags_for_resource(arn) == {"k": "v"}
                assert [q["jobQueueName"] for q in c.describe_job_queues(["q"])] == ["q"]
                assert c.get_job_queue_snapshot("q")["frontOfQueue"]["jobs"] is not None
                assert c.describe_log_streams()["logStreams"] is not None

            await anyio.to_thread.run_sync(work)
        (rt.state_dir / "api.json").write_text(json.dumps({"url": url, "pid": 2**22 + 7}))
        assert find_runtime(rt.state_dir) is None  # that process is gone
        with pytest.raises(ApiConnectionError):
            await anyio.to_thread.run_sync(ApiClient(url, timeout=2).describe_job_queues)


def test_boto_client_helper_is_usable_without_a_server() -> None:
    assert client("batch", "http://127.0.0.1:9").meta.region_name == "us-east-1"
