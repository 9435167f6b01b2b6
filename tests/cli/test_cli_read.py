"""`abatch jobs`, `describe`, `logs` and `validate` on the state a real run left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abatch.cli import main

from .support import run_abatch, write_config


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A state directory after one run: job name -> job id."""
    tmp = tmp_path_factory.mktemp("read")
    cfg = write_config(
        tmp,
        [
            ("hi-1", "high", "echo first line; echo LAST-LINE"),
            ("lo-1", "low", "echo low"),
            ("lo-bad", "low", "echo BAD-MARKER; exit 7"),
        ],
    )
    state = tmp / "state"
    assert main(["run", str(cfg), "--json"]) == 1
    ids = {}
    for job in json.loads(_run_json(state))["jobSummaryList"]:
        ids[job["jobName"]] = job["jobId"]
    return state, ids


def _run_json(state: Path) -> str:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["jobs", "--json", "--state-dir", str(state)]) == 0
    return buf.getvalue()


def test_jobs_table_and_filters(
    ran: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    state, ids = ran
    capsys.readouterr()
    assert main(["jobs", "--state-dir", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["JOB", "ID", "NAME", "QUEUE", "STATUS", "CREATED", "EXIT", "REASON"]
    assert [line.split()[1] for line in lines[1:]] == ["hi-1", "lo-1", "lo-bad"]
    bad = next(line for line in lines if "lo-bad" in line)
    assert ids["lo-bad"] in bad and " FAILED " in bad and " 7 " in bad

    assert main(["jobs", "--queue", "low", "--state-dir", str(state)]) == 0
    assert {line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]} == {
        "lo-1",
        "lo-bad",
    }
    assert main(["jobs", "--status", "FAILED", "--json", "--state-dir", str(state)]) == 0
    summaries = json.loads(capsys.readouterr().out)["jobSummaryList"]
    assert [(j["jobName"], j["container"]["exitCode"]) for j in summaries] == [("lo-bad", 7)]
    assert main(["jobs", "--status", "RUNNABLE", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out.startswith("no jobs match")
    assert main(["jobs", "--limit", "2", "--state-dir", str(state)]) == 0
    captured = capsys.readouterr()
    assert [line.split()[1] for line in captured.out.splitlines()[1:]] == ["lo-1", "lo-bad"]
    assert "the latest 2 of 3 jobs" in captured.err


def test_jobs_with_a_bogus_status_lists_the_valid_ones(
    ran: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = ran
    capsys.readouterr()
    assert main(["jobs", "--status", "BOGUS", "--state-dir", str(state)]) == 2
    err = capsys.readouterr().err
    assert "'BOGUS' is not a job status" in err
    assert "SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED" in err


def test_describe_human_and_json(
    ran: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    state, ids = ran
    capsys.readouterr()
    assert main(["describe", ids["lo-bad"], "--state-dir", str(state)]) == 0
    out = capsys.readouterr().out
    assert "job name:       lo-bad" in out and "exit code:      7" in out
    assert "attempts (1):" in out and "history:" in out
    for status in ("SUBMITTED", "RUNNABLE", "STARTING", "RUNNING", "FAILED"):
        assert f"  {status}" in out
    assert main(["describe", ids["lo-bad"], "--json", "--state-dir", str(state)]) == 0
    detail = json.loads(capsys.readouterr().out)
    assert detail["jobId"] == ids["lo-bad"] and detail["status"] == "FAILED"
    assert detail["container"]["exitCode"] == 7
    assert [h["status"] for h in detail["history"]] == [
        "SUBMITTED",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "FAILED",
    ]
    (attempt,) = detail["attempts"]
    assert attempt["attemptNumber"] == 1 and attempt["container"]["exitCode"] == 7
    assert attempt["computeEnvironment"] == "local"


def test_describe_an_unknown_job_exits_2(
    ran: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    state, _ = ran
    capsys.readouterr()
    assert main(["describe", "nosuchid", "--state-dir", str(state)]) == 2
    err = capsys.readouterr().err
    assert "job nosuchid does not exist" in err and "Traceback" not in err


def test_logs_latest_and_by_attempt(
    ran: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    state, ids = ran
    capsys.readouterr()
    assert main(["logs", ids["hi-1"], "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out == "first line\nLAST-LINE\n"
    assert main(["logs", ids["lo-bad"], "--attempt", "1", "--state-dir", str(state)]) == 0
    assert capsys.readouterr().out == "BAD-MARKER\n"
    assert main(["logs", ids["lo-bad"], "--attempt", "2", "--state-dir", str(state)]) == 2
    assert "has no attempt 2 (it has attempt 1)" in capsys.readouterr().err
    assert main(["logs", ids["lo-bad"], "--attempt", "0", "--state-dir", str(state)]) == 2


def test_reading_a_state_dir_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nothing-here"
    for argv in (["logs", "some-id"], ["jobs"], ["describe", "x"]):
        assert main([*argv, "--state-dir", str(missing)]) == 2
        err = capsys.readouterr().err
        assert f"no abatch state in {missing}" in err and "Traceback" not in err
    assert not missing.exists()  # reading never creates it


def test_state_dir_from_the_environment(
    ran: tuple[Path, dict[str, str]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state, ids = ran
    monkeypatch.setenv("ABATCH_STATE_DIR", str(state))
    capsys.readouterr()
    assert main(["jobs"]) == 0
    assert ids["lo-1"] in capsys.readouterr().out


def test_validate_good_and_bad(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_config(tmp_path, [("a", "high", "true"), ("b", "low", "true")])
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "is valid" in out
    assert "1 compute environment, 2 job queues, 1 job definition, 2 jobs" in out

    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[runtime]\nkill_grace_seconds = -1\n\n[[job_queue]]\nname = "q"\npriority = 1\n'
        'compute_environment_order = [{ order = 1, compute_environment = "nope" }]\n'
        '\n[[job]]\nname = "j"\njob_queue = "q"\njob_definition = "missing"\n'
    )
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) >= 4  # every problem on its own line, then the count
    assert all(line.startswith(f"{bad}:") for line in err[:-1])
    assert "kill_grace_seconds" in "\n".join(err) and "nope" in "\n".join(err)
    assert err[-1] == f"{bad} is not valid: {len(err) - 1} problems"

    assert main(["validate", str(tmp_path / "absent.toml")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["validate"]) == 2  # usage error: argparse

    # Several at once (`abatch validate configs/*.toml`): each reported, 1 if any is bad.
    assert main(["validate", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{good} is valid" in captured.out and f"{bad} is not valid" in captured.err
    assert main(["validate", str(good), str(good)]) == 0
    assert capsys.readouterr().out.count("is valid") == 2


def test_describe_says_why_a_runnable_job_waits_and_summarises_arrays(tmp_path: Path) -> None:
    """A runtime stopped while jobs wait: describe reads their place from the store."""
    import anyio

    from abatch.executors.fake import FakeExecutor, FakeOutcome
    from abatch.model.enums import JobStatus as S
    from tests.runtime.helpers import req, runtime, wait_for

    async def setup() -> tuple[str, str, str]:
        fake = FakeExecutor(lambda s: FakeOutcome(duration=None))
        async with runtime(tmp_path, fake, vcpus=1) as rt:
            first = await rt.submit(req("first"))
            await rt.submit(req("second"))
            third = await rt.submit(req("third"))
            arr = await rt.submit(req("arr", arrayProperties={"size": 2}))
            counts = rt.graph.arrays[arr.job_id].counts
            await wait_for(
                rt,
                lambda: (
                    third.status.value == "RUNNABLE"
                    and len(fake.running) == 1
                    and counts[S.RUNNABLE] == 2
                ),
            )
            return first.job_id, third.job_id, arr.job_id

    first, third, arr = anyio.run(setup)
    state = tmp_path / "state"
    out = run_abatch("describe", third, "--state-dir", str(state), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # The stop requeued the running job at the front: it is now the head, third is 3rd.
    assert f"position 3 in queue q, behind job {first} (first)" in out.stdout
    parent = run_abatch("describe", arr, "--json", "--state-dir", str(state), cwd=tmp_path)
    summary = json.loads(parent.stdout)["arrayProperties"]["statusSummary"]
    assert set(summary) == {
        "SUBMITTED",
        "PENDING",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
    }
    assert summary["RUNNABLE"] == 2


def test_database_from_a_newer_schema_is_refused_without_a_traceback(tmp_path: Path) -> None:
    import sqlite3

    state = tmp_path / "state"
    state.mkdir()
    conn = sqlite3.connect(state / "abatch.db")
    conn.execute("PRAGMA user_version=999")
    conn.close()
    for args in (["jobs"], ["serve"]):
        proc = run_abatch(*args, "--state-dir", str(state), cwd=tmp_path)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "newer than this abatch supports" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert sqlite3.connect(state / "abatch.db").execute("PRAGMA user_version").fetchone()[0] == 999


def test_validate_and_run_warn_when_this_machine_is_promised_too_much(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from abatch.runtime.host import host_cpus

    cpus = host_cpus()
    cfg = write_config(tmp_path, [("a", "high", "true")], max_vcpus=cpus + 3)
    assert main(["validate", str(cfg)]) == 0  # a warning, not an error
    captured = capsys.readouterr()
    assert "is valid" in captured.out
    (warning,) = [line for line in captured.err.splitlines() if "vCPUs" in line]
    assert warning == (
        f"warning: compute environments on this machine promise {cpus + 3} vCPUs "
        f"(local {cpus + 3}) but it has {cpus} CPUs"
    )
    assert main(["run", str(cfg)]) == 0
    assert warning in capsys.readouterr().err.splitlines()
