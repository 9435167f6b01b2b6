"""Secrets given to jobs as environment values, and the API's SigV4 secret key, never appear
in the runtime's own output: its log records (every logger, at DEBUG), what `abatch serve`
prints on stdout and stderr, and the files it keeps beside the database and the job logs.

Each test makes the runtime handle the secrets every way it can: in a definition, in an
override, in a job that fails and is retried, in a refused request, in a request aiohttp
cannot parse; and checks the job's own log does hold its secret (so the search can find it).
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError as BotoClientError

from abatch.model.enums import JobStatus
from tests.api.test_api_fuzz import Wire
from tests.cli.support import Abatch, ready_url, write_config

NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"})
CLIENT_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
KEPT_FILES = ("abatch.db", "abatch.db-wal", "abatch.db-shm", "credentials.json")


def tokens() -> dict[str, str]:
    return {k: f"{k}-{uuid.uuid4().hex}" for k in ("defined", "override", "refused", "header")}


def client(service: str, url: str, creds: dict[str, str]) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        config=NO_RETRY,
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
    )


def exercise(url: str, creds: dict[str, str], secrets: dict[str, str]) -> str:
    """Blocking: every way a secret reaches the runtime; returns the failed job's id once it
    has finished."""
    batch = client("batch", url, creds)
    batch.register_job_definition(
        jobDefinitionName="leaky",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": ["sh", "-c", 'echo "$DEFINED $OVERRIDE"; exit 3'],
            "environment": [{"name": "DEFINED", "value": secrets["defined"]}],
            "resourceRequirements": [
                {"type": "VCPU", "value": "1"},
                {"type": "MEMORY", "value": "64"},
            ],
        },
        retryStrategy={"attempts": 2},
    )
    job = batch.submit_job(
        jobName="leaky",
        jobQueue="high",
        jobDefinition="leaky",
        containerOverrides={"environment": [{"name": "OVERRIDE", "value": secrets["override"]}]},
    )
    with pytest.raises(BotoClientError):
        batch.submit_job(
            jobName="refused",
            jobQueue="no-such-queue",
            jobDefinition="leaky",
            containerOverrides={"environment": [{"name": "OVERRIDE", "value": secrets["refused"]}]},
        )
    # A request aiohttp cannot parse (a control character in a header): its error quotes the
    # header, and goes back to the client only.
    wire = Wire(url)
    with socket.create_connection((wire.host, wire.port), timeout=30) as sock:
        sock.sendall(
            b"POST /v1/listjobs HTTP/1.1\r\nHost: x\r\nX-Secret: "
            + secrets["header"].encode()
            + b"\x01\r\nContent-Length: 2\r\n\r\n{}"
        )
        answer = sock.recv(65536)
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer[:200]
    deadline = time.monotonic() + 60
    while True:
        (detail,) = batch.describe_jobs(jobs=[job["jobId"]])["jobs"]
        if detail["status"] in ("SUCCEEDED", "FAILED"):
            break
        assert time.monotonic() < deadline, detail["status"]
        time.sleep(0.1)
    assert detail["status"] == "FAILED" and len(detail["attempts"]) == 2
    return str(job["jobId"])


def assert_kept_out(text: str, secrets: dict[str, str], where: str) -> None:
    for name, value in secrets.items():
        assert value not in text, f"the {name} secret is in {where}"


def other_files(state: Path) -> dict[str, str]:
    """Every file in the state dir but the database, the credentials and the job logs."""
    out = {}
    for path in state.rglob("*"):
        rel = path.relative_to(state)
        if path.is_file() and rel.parts[0] != "logs" and str(rel) not in KEPT_FILES:
            out[str(rel)] = path.read_text(errors="replace")
    return out


async def test_secrets_stay_out_of_the_runtimes_log_records(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, every logger at DEBUG (asyncio, aiohttp, aiosqlite, abatch)."""
    from abatch.client.sigv4 import load_credentials
    from tests.api.helpers import api_runtime

    caplog.set_level(logging.DEBUG)
    secrets = tokens()
    async with api_runtime(tmp_path, auth=True) as api:
        creds_obj = load_credentials(api.rt.state_dir)
        assert creds_obj is not None
        creds = {
            "aws_access_key_id": creds_obj.access_key_id,
            "aws_secret_access_key": creds_obj.secret_access_key,
        }
        # The runtime helper's queues are q and high; the definition above runs on high.
        job_id = await anyio.to_thread.run_sync(exercise, api.url, creds, secrets)
        (job,) = await api.rt.get_jobs([job_id])
        assert job.status is JobStatus.FAILED
        logs = [api.rt.log_path(a.log_stream) for a in job.attempts if a.log_stream]
        assert secrets["override"] in logs[-1].read_text()  # the job's own output has it
        state = api.rt.state_dir
    # The runtime's records: boto3 and urllib3 are the client in this same process, and at
    # DEBUG they log the requests they send, secrets and all.
    ours = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert ours, "nothing was logged: the capture is not working"
    everything = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in ours)
    assert_kept_out(everything, secrets, "the runtime's log records")
    assert creds["aws_secret_access_key"] not in everything
    for name, text in other_files(state).items():
        assert_kept_out(text, secrets, name)
        assert creds["aws_secret_access_key"] not in text, name


def test_secrets_stay_out_of_abatch_serve_output(tmp_path: Path) -> None:
    """The real CLI: `abatch serve` with authentication, driven by boto3; its stdout and
    stderr (one line per state change, its messages) hold neither the job secrets nor the
    SigV4 secret key."""
    secrets = tokens()
    cfg = write_config(tmp_path, [])
    cfg.write_text(cfg.read_text().replace("[runtime]\n", "[runtime]\napi_auth = true\n"))
    serve = Abatch(["serve", str(cfg)], tmp_path)
    try:
        url = ready_url(serve.wait_for(lambda line: line.startswith("ready:"), timeout=60))
        state = tmp_path / "state"
        creds = json.loads((state / "credentials.json").read_text())
        job_id = exercise(url, creds, secrets)
        serve.wait_for(lambda line: job_id in line and "FAILED" in line, timeout=60)
        serve.signal(signal.SIGTERM)
        assert serve.finish(timeout=30) == 0
    finally:
        serve.kill()
    output = serve.output
    assert job_id in output  # the capture holds what serve printed
    assert_kept_out(output, secrets, "abatch serve's output")
    assert creds["aws_secret_access_key"] not in output
    for name, text in other_files(state).items():
        assert_kept_out(text, secrets, name)
        assert creds["aws_secret_access_key"] not in text, name
    logs = "".join(p.read_text() for p in (state / "logs").iterdir())
    assert secrets["defined"] in logs  # the job's own output has it
