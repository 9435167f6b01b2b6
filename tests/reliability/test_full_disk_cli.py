"""A full disk under a serving runtime, end to end: `abatch submit` gets one clear line (no
traceback), reads still work, a job whose log cannot be written ends with the reason noted,
nothing acknowledged is lost, and once there is room the runtime carries on by itself."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from tests.cli.support import Abatch, run_abatch, write_config

from .tmpfs import fill, mounted_tmpfs

Spawn = Callable[..., Abatch]


def jobs_by_id(state: Path, cwd: Path) -> dict[str, dict[str, object]]:
    proc = run_abatch("jobs", "--json", "--state-dir", str(state), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return {j["jobId"]: j for j in json.loads(proc.stdout)["jobSummaryList"]}


def submit(state: Path, cwd: Path, *args: str) -> tuple[int, str, str]:
    proc = run_abatch(
        "submit", "-q", "high", "-d", "sh", "--state-dir", str(state), *args, cwd=cwd, timeout=90
    )
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def wait_terminal(state: Path, cwd: Path, ids: set[str]) -> dict[str, dict[str, object]]:
    deadline = time.monotonic() + 60
    while True:
        jobs = jobs_by_id(state, cwd)
        if all(jobs.get(i, {}).get("status") in ("SUCCEEDED", "FAILED") for i in ids):
            return jobs
        assert time.monotonic() < deadline, {i: jobs.get(i) for i in ids}
        time.sleep(0.3)


def test_serve_on_a_full_disk(tmp_path: Path, spawn: Spawn) -> None:
    cfg = write_config(tmp_path, [])
    with mounted_tmpfs(tmp_path / "fs", "6m") as fs:
        state = fs / "state"
        server = spawn("serve", str(cfg), "--state-dir", str(state), "--port", "0")
        server.wait_for(lambda line: line.startswith("ready:"))
        code, before, err = submit(state, tmp_path, "--command", "sh", "-c", "echo before")
        assert code == 0, err
        acked = {before}
        wait_terminal(state, tmp_path, acked)
        go = tmp_path / "GO"
        script = f"until [ -e {go} ]; do sleep 0.05; done; echo written after the disk filled"
        code, writer, err = submit(state, tmp_path, "--command", "sh", "-c", script)
        assert code == 0, err
        acked.add(writer)
        deadline = time.monotonic() + 30
        while jobs_by_id(state, tmp_path)[writer]["status"] != "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.1)

        filler = fill(fs)
        go.touch()  # the job writes its line now: the log's disk has no room
        # Far more than the WAL file has room for: refused with one line that says why.
        code, out, err = submit(state, tmp_path, "--array-size", "5000", "--command", "true")
        assert code != 0 and out == ""
        assert "Traceback" not in err and len(err.splitlines()) == 1, err
        assert "disk holding the state directory is full" in err
        # A small job may still fit in the WAL's room; if it is acknowledged it must run.
        code, small, err = submit(
            state, tmp_path, "--command", "sh", "-c", "echo while full; echo done"
        )
        if code == 0:
            acked.add(small)
        else:
            assert "full" in err and "Traceback" not in err, err
        assert before in jobs_by_id(state, tmp_path)  # reads work on a full disk

        filler.unlink()
        code, after, err = submit(state, tmp_path, "--command", "sh", "-c", "echo after")
        assert code == 0, err
        acked.add(after)
        jobs = wait_terminal(state, tmp_path, acked)
        assert jobs[after]["status"] == "SUCCEEDED" and jobs[before]["status"] == "SUCCEEDED"
        # The job's write failed (ENOSPC, as on any host): it failed, and the attempt says
        # why its log is short.
        described = json.loads(
            run_abatch("describe", writer, "--json", "--state-dir", str(state), cwd=tmp_path).stdout
        )
        assert described["status"] == "FAILED", described
        assert described["attempts"][-1]["container"]["reason"] == (
            "log incomplete: the disk holding the state directory is full"
        )
        if small in acked:
            # Ran once the disk had room, or ran while full and its log could not be written.
            described = json.loads(
                run_abatch(
                    "describe", small, "--json", "--state-dir", str(state), cwd=tmp_path
                ).stdout
            )
            if described["status"] == "FAILED":
                reason = described["attempts"][-1]["container"].get("reason", "")
                assert "log incomplete" in reason, described

        server.signal(signal.SIGTERM)
        assert server.finish(timeout=30) == 0
        assert "Traceback" not in server.output

        conn = sqlite3.connect(state / "abatch.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            rows = conn.execute("SELECT job_id FROM jobs WHERE job_id NOT LIKE '%:%'")
            stored = {r[0] for r in rows}
        finally:
            conn.close()
        assert stored == acked
