"""The CLI as a client of a running runtime: `abatch serve --port 0` as a real subprocess, and
`submit`, `cancel`, `terminate`, `queues`, `ce`, `definitions`, `logs -f` against it.

Most client commands run in-process through `main` (fast, output from capsys); the ones whose
exit or signals matter run as subprocesses.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from abatch.cli import main

from .support import Abatch, ready_url, run_abatch, write_config

Spawn = Callable[..., Abatch]
# Prints over about 2 s, and cannot finish before the test has created the file GO.
FIVE_LINES = (
    "for i in 1 2 3; do echo line $i; sleep 0.4; done; "
    "until [ -e GO ]; do sleep 0.1; done; echo line 4; sleep 0.4; echo line 5"
)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def start_serve(spawn: Spawn, cfg: Path, *extra: str) -> tuple[Abatch, str]:
    server = spawn("serve", str(cfg), "--port", "0", *extra)
    return server, ready_url(server.wait_for(lambda line: line.startswith("ready:")))


def statuses(cli: Callable[..., Result], state: Path) -> dict[str, str]:
    result = cli("jobs", "--json", "--state-dir", str(state))
    assert result.code == 0, result.err
    return {j["jobId"]: j["status"] for j in json.loads(result.out)["jobSummaryList"]}


def wait_status(
    cli: Callable[..., Result], state: Path, ids: list[str], wanted: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        now = statuses(cli, state)
        if all(now.get(i) == wanted for i in ids):
            return
        assert time.monotonic() < deadline, (wanted, now)
        time.sleep(0.2)


def test_submit_follow_and_list_resources(
    tmp_path: Path, spawn: Spawn, cli: Callable[..., Result]
) -> None:
    cfg = write_config(tmp_path, [], max_vcpus=2)
    state = tmp_path / "state"
    server, url = start_serve(spawn, cfg)
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":8765")
    assert json.loads((state / "api.json").read_text())["url"] == url
    sd = ("--state-dir", str(state))

    plain = cli("submit", "-q", "high", "-d", "sh", *sd)
    assert plain.code == 0, plain.err
    plain_id = plain.out.strip()
    params = cli(
        "submit", "--queue", "high", "--definition", "sh:1", "--name", "with-params",
        "--parameter", "word=hello", "--env", "WHO=world", "--json", *sd,
        "--command", "sh", "-c", 'echo "Ref::word $WHO"',
    )  # fmt: skip
    assert params.code == 0, params.err
    answer = json.loads(params.out)
    assert answer["jobName"] == "with-params" and answer["jobArn"].endswith(answer["jobId"])
    array = cli(
        "submit", "-q", "low", "-d", "sh", "--array-size", "3", *sd,
        "--command-json", '["sh", "-c", "echo child $AWS_BATCH_JOB_ARRAY_INDEX"]',
    )  # fmt: skip
    array_id = array.out.strip()
    after = cli(
        "submit", "-q", "high", "-d", "sh", "--name", "after", "--depends-on", array_id, *sd
    ).out.strip()
    slow_args = ("-q", "low", "-d", "sh", "--name", "slow", *sd, "--command", "sh", "-c")
    go = tmp_path / "GO"
    slow = cli("submit", *slow_args, FIVE_LINES.replace("GO", str(go))).out.strip()

    # logs -f follows the running job: its first lines arrive while the job still runs.
    follower = spawn("logs", "-f", slow, *sd)
    follower.wait_for(lambda line: line == "line 1")
    assert statuses(cli, state)[slow] in ("RUNNING", "STARTING")
    go.touch()
    assert follower.finish(timeout=30) == 0
    assert [line for line in follower.lines if line.startswith("line")] == [
        f"line {i}" for i in range(1, 6)
    ]

    # Without --attempt it follows the job across its retries.
    go2 = tmp_path / "GO2"
    script = f"echo try $AWS_BATCH_JOB_ATTEMPT; until [ -e {go2} ]; do sleep 0.1; done; exit 1"
    retried = cli(
        "submit", "-q", "high", "-d", "sh", "--retry-attempts", "2", *sd,
        "--command", "sh", "-c", script,
    ).out.strip()  # fmt: skip
    follower = spawn("logs", "-f", retried, *sd)
    follower.wait_for(lambda line: line == "try 1")
    go2.touch()
    assert follower.finish(timeout=30) == 0
    assert follower.lines[-3:] == ["try 1", f"--- attempt 2 of job {retried}", "try 2"]

    ids = [plain_id, answer["jobId"], array_id, *(f"{array_id}:{i}" for i in range(3)), after]
    wait_status(cli, state, ids, "SUCCEEDED")
    assert cli("logs", answer["jobId"], *sd).out == "hello world\n"
    assert cli("logs", f"{array_id}:2", *sd).out == "child 2\n"
    detail = json.loads(cli("describe", after, "--json", *sd).out)
    parent = json.loads(cli("describe", array_id, "--json", *sd).out)
    assert detail["dependsOn"] == [{"jobId": array_id}]
    assert detail["startedAt"] >= parent["stoppedAt"]
    # logs -f on a finished job prints its log and ends at once.
    assert cli("logs", "--follow", plain_id, *sd).out == f"hello from {plain_id}\n"

    queues = cli("queues", *sd)
    assert queues.code == 0
    header, high, low = queues.out.splitlines()
    assert header.split()[:5] == ["QUEUE", "STATE", "STATUS", "PRIORITY", "COMPUTE"]
    # high: plain, with-params and after succeeded, retried failed; low: the array parent,
    # its 3 children and slow succeeded.
    counts = ["0", "0", "0", "3", "1"]
    assert high.split() == ["high", "ENABLED", "VALID", "10", "local", *counts, "FIFO"]
    assert low.split()[:9] == ["low", "ENABLED", "VALID", "1", "local", "0", "0", "0", "5"]
    as_json = json.loads(cli("queues", "--json", *sd).out)["jobQueues"]
    by_name = {q["jobQueueName"]: q for q in as_json}
    assert by_name["low"]["jobCounts"]["SUCCEEDED"] == 5 and by_name["high"]["priority"] == 10

    ce = cli("ce", *sd).out.splitlines()
    assert ce[0].split()[:3] == ["COMPUTE", "ENV", "TYPE"]
    assert ce[1].split() == [
        "local",
        "MANAGED",
        "EC2",
        "ENABLED",
        "VALID",
        "process",
        "2",
        "host",
        "host",
    ]
    ces = json.loads(cli("ce", "--json", *sd).out)["computeEnvironments"]
    assert ces[0]["computeResources"]["maxvCpus"] == 2

    from abatch.client import ApiClient

    client = ApiClient(url)
    body = json.loads(cli("definitions", "--json", *sd).out)["jobDefinitions"][0]
    for key in ("jobDefinitionArn", "revision", "status", "containerOrchestrationType"):
        body.pop(key)
    body["containerProperties"]["command"] = ["echo", "two"]
    client.register_job_definition(body)
    client.deregister_job_definition("sh:1")
    active = cli("definitions", *sd).out.splitlines()
    assert [line.split()[:3] for line in active[1:]] == [["sh", "2", "ACTIVE"]]
    assert active[1].endswith("echo two")
    every = cli("definitions", "--all", "--name", "sh", *sd).out.splitlines()
    assert [line.split()[:3] for line in every[1:]] == [
        ["sh", "1", "INACTIVE"],
        ["sh", "2", "ACTIVE"],
    ]
    assert (
        "no job definitions named 'nope'" in cli("definitions", "--all", "--name", "nope", *sd).out
    )

    server.signal(signal.SIGTERM)
    assert server.finish(timeout=30) == 0
    assert not (state / "api.json").exists()
    gone = cli("queues", *sd)
    assert gone.code == 2
    assert gone.err.strip() == (
        f"abatch queues: no abatch runtime is running on {state}; start one with `abatch serve`"
    )


def test_cancel_terminate_and_bad_requests(
    tmp_path: Path, spawn: Spawn, cli: Callable[..., Result]
) -> None:
    cfg = write_config(tmp_path, [], max_vcpus=1)
    state = tmp_path / "state"
    server, _ = start_serve(spawn, cfg)
    sd = ("--state-dir", str(state))
    long_args = ("-q", "high", "-d", "sh", *sd, "--command", "sh", "-c")
    long = cli("submit", *long_args, "echo started; sleep 30").out.strip()
    waiting = cli("submit", "-q", "low", "-d", "sh", *sd).out.strip()
    wait_status(cli, state, [long], "RUNNING")
    wait_status(cli, state, [waiting], "RUNNABLE")  # and it stays so: the only vCPU is taken

    cancelled = cli("cancel", waiting, *sd)
    assert cancelled.code == 0
    assert cancelled.out.strip() == f"cancelled job {waiting} (sh): it is FAILED"
    detail = json.loads(cli("describe", waiting, "--json", *sd).out)
    assert detail["statusReason"] == "Cancelled by abatch CLI" and detail["isCancelled"]

    # Cancel does not stop a running job (as AWS); it says so.
    not_stopped = cli("cancel", long, *sd)
    assert (
        not_stopped.code == 0 and "cancel does not stop a job that has started" in not_stopped.err
    )

    # Ctrl-C stops `logs -f` quietly, with 130.
    follower = spawn("logs", "-f", long, *sd)
    follower.wait_for(lambda line: line == "started")
    follower.signal(signal.SIGINT)
    assert follower.finish(timeout=30) == 130
    assert "Traceback" not in follower.output and "interrupted" not in follower.output

    terminated = cli("terminate", long, "--reason", "enough", *sd)
    assert terminated.code == 0 and long in terminated.out
    wait_status(cli, state, [long], "FAILED")
    detail = json.loads(cli("describe", long, "--json", *sd).out)
    assert detail["statusReason"] == "enough" and detail["isTerminated"]
    again = cli("terminate", long, *sd)
    assert again.code == 0 and "had already finished (FAILED); nothing changed" in again.err

    # Bad requests: the runtime's one-line message, exit 2, no traceback.
    unknown_queue = run_abatch("submit", "-q", "nope", "-d", "sh", *sd, cwd=tmp_path)
    assert unknown_queue.returncode == 2
    assert unknown_queue.stderr == "abatch submit: job queue 'nope' does not exist\n"
    for args, message in [
        (("-q", "high", "-d", "nope"), "job definition"),
        (("-q", "high", "-d", "sh", "--depends-on", "no-such-job"), "dependsOn[0]"),
        (("-q", "high", "-d", "sh", "--parameter", "novalue"), "expected KEY=VALUE"),
        (("-q", "high", "-d", "sh", "--array-size", "1"), "arrayProperties.size"),
    ]:
        bad = cli("submit", *args, *sd)
        assert bad.code == 2 and message in bad.err, (args, bad)
        assert len(bad.err.splitlines()) == 1
    assert (
        cli("cancel", "no-such-job", *sd).err == "abatch cancel: job no-such-job does not exist\n"
    )

    stuck = cli("submit", "-q", "low", "-d", "sh", "--vcpus", "2", *sd).out.strip()
    wait_status(cli, state, [stuck], "RUNNABLE")  # more than the compute environment has
    server.signal(signal.SIGTERM)
    assert server.finish(timeout=30) == 0
    # Nothing can move the job now: logs -f says so instead of waiting forever.
    orphan = cli("logs", "-f", stuck, *sd)
    assert orphan.code == 2
    assert orphan.err.startswith(f"abatch logs: no abatch runtime is running on {state}; job ")


def test_no_runtime_and_refused_binds(tmp_path: Path, spawn: Spawn) -> None:
    state = tmp_path / "nothing-here"
    for args in (["submit", "-q", "high", "-d", "sh"], ["cancel", "x"], ["ce"]):
        proc = run_abatch(*args, "--state-dir", str(state), cwd=tmp_path)
        assert proc.returncode == 2, proc
        assert proc.stderr == (
            f"abatch {args[0]}: no abatch runtime is running on {state}; start one with "
            "`abatch serve`\n"
        )
    cfg = write_config(tmp_path, [])
    refused = run_abatch("serve", str(cfg), "--host", "0.0.0.0", cwd=tmp_path)
    assert refused.returncode == 2
    assert "refusing to serve the API on 0.0.0.0, which is not a loopback address" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr and not (tmp_path / "state").exists()

    # A port in use: the second runtime (another state directory) cannot bind it.
    first, url = start_serve(spawn, cfg)
    port = url.rsplit(":", 1)[1]
    other = run_abatch(
        "serve", str(cfg), "--state-dir", str(tmp_path / "other"), "--port", port, cwd=tmp_path
    )
    assert other.returncode == 2
    assert f"cannot serve the API on 127.0.0.1:{port}" in other.stderr
    assert "--port 0 picks a free port" in other.stderr and "Traceback" not in other.stderr
    first.signal(signal.SIGTERM)
    assert first.finish(timeout=30) == 0


def test_run_keep_running_serves_until_a_signal(
    tmp_path: Path, spawn: Spawn, cli: Callable[..., Result]
) -> None:
    cfg = write_config(tmp_path, [("ok", "high", "echo ok"), ("bad", "low", "exit 4")])
    state = tmp_path / "state"
    run = spawn("run", str(cfg), "--keep-running", "--port", "0")
    ready = run.wait_for(lambda line: line.startswith("ready:"))
    assert "1 succeeded, 1 failed" in run.output  # the summary comes first
    assert ready_url(ready) == json.loads((state / "api.json").read_text())["url"]

    later = cli("submit", "-q", "high", "-d", "sh", "--name", "later", "--state-dir", str(state))
    assert later.code == 0, later.err
    run.wait_for(
        lambda line: (
            "later" in line and line.endswith("SUCCEEDED  Essential container in task exited")
        )
    )
    run.signal(signal.SIGTERM)
    assert run.finish(timeout=30) == 1  # the run's own jobs: one failed
    assert "Traceback" not in run.output
    assert not (state / "api.json").exists()
