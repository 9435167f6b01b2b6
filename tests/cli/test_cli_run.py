"""`abatch run`: end to end with real processes and a real SQLite state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abatch.cli import main

from .support import ROOT, run_abatch, write_config

FOUR_JOBS = [
    ("first", "high", "echo one; sleep 0.1"),
    ("second", "low", "echo two; sleep 0.1"),
    ("broken", "low", "echo MARKER-broken-42; echo on stderr >&2; exit 3"),
    ("third", "high", "echo three"),
]


def summary_rows(out: str) -> dict[str, list[str]]:
    """Rows of the summary table by job name (the table starts at its JOB header)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("JOB "))
    rows = {}
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        cells = line.split()
        rows[cells[0]] = cells
    return rows


def test_run_with_a_failed_job_exits_1_and_prints_its_log_tail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, FOUR_JOBS)
    assert main(["run", str(cfg)]) == 1
    out = capsys.readouterr().out
    rows = summary_rows(out)
    assert set(rows) == {"first", "second", "broken", "third"}
    for name in ("first", "second", "third"):
        assert rows[name][2:4] == ["SUCCEEDED", "0"], rows[name]
    assert rows["broken"][2:4] == ["FAILED", "3"]
    tail = out[out.index("--- broken") :]
    assert "MARKER-broken-42" in tail and "on stderr" in tail
    assert "3 succeeded, 1 failed in" in out
    assert "finished:" in out  # plain progress lines: stdout is not a terminal here
    assert (tmp_path / "state" / "abatch.db").exists()


def test_run_all_succeeded_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, [(n, q, s) for n, q, s in FOUR_JOBS if n != "broken"])
    assert main(["run", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert {row[2] for row in summary_rows(out).values()} == {"SUCCEEDED"}
    assert "3 succeeded, 0 failed" in out and "---" not in out


def test_run_json_is_pure_json_with_every_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path, FOUR_JOBS)
    state = tmp_path / "elsewhere"
    assert main(["run", str(cfg), "--json", "--state-dir", str(state)]) == 1
    captured = capsys.readouterr()
    doc = json.loads(captured.out)  # nothing but JSON on stdout
    assert (state / "abatch.db").exists() and not (tmp_path / "state").exists()
    assert doc["succeeded"] == 3 and doc["failed"] == 1 and doc["elapsedSeconds"] > 0
    by_name = {j["jobName"]: j for j in doc["jobs"]}
    assert list(by_name) == ["first", "second", "broken", "third"]
    broken = by_name["broken"]
    assert broken["status"] == "FAILED" and broken["exitCode"] == 3
    assert broken["statusReason"] == "Essential container in task exited"
    assert broken["attempts"] == 1 and broken["logStreamName"].startswith("sh/default/")
    assert "MARKER-broken-42" in broken["logTail"]
    first = by_name["first"]
    # About the 0.1 s sleep: counted from RUNNING, which is noted once the spawn has
    # returned, so on a loaded host a few ms of the sleep can fall before it.
    assert first["exitCode"] == 0 and first["durationSeconds"] >= 0.05
    assert "logTail" not in first


def test_run_config_problems_exit_2_each_on_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[[job_queue]]\nname = "q"\npriorty = 1\n\n[[jobz]]\n')
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "priorty: unknown key (did you mean 'priority'?)" in err
    assert "jobz: unknown table (did you mean 'job'?)" in err
    assert "compute_environment_order: is required" in err
    assert "Traceback" not in err and not (tmp_path / "state").exists()


def test_run_honours_depends_on_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = [
        ("upstream", "low", "sleep 0.3; exit 4"),
        ("downstream", "high", "echo should-not-run"),
    ]
    cfg = write_config(tmp_path, jobs)
    cfg.write_text(cfg.read_text() + 'depends_on = ["upstream"]\n')
    assert main(["run", str(cfg), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    by_name = {j["jobName"]: j for j in result["jobs"]}
    assert by_name["upstream"]["exitCode"] == 4
    assert by_name["downstream"]["status"] == "FAILED"
    assert by_name["downstream"]["statusReason"] == "Dependent Job failed"
    assert by_name["downstream"]["attempts"] == 0


def test_unusable_state_dir_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Tests run as root, so permissions stop nothing: a path below a regular file does.
    (tmp_path / "file").write_text("not a directory")
    cfg = write_config(tmp_path, FOUR_JOBS[:1])
    assert main(["run", str(cfg), "--state-dir", str(tmp_path / "file" / "state")]) == 2
    err = capsys.readouterr().err
    assert "state directory" in err and str(tmp_path / "file" / "state") in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_run_quickstart_as_a_subprocess(tmp_path: Path) -> None:
    quickstart = ROOT / "configs" / "quickstart.toml"
    if not quickstart.exists():
        pytest.fail(f"{quickstart} is missing")
    proc = run_abatch(
        "run", str(quickstart), "--state-dir", str(tmp_path / "state"), cwd=tmp_path, timeout=90
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = summary_rows(proc.stdout)
    assert len(rows) >= 12
    assert {row[2] for row in rows.values()} == {"SUCCEEDED"}
    assert "Traceback" not in proc.stderr


def test_run_the_gpu_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """configs/gpus.toml: four 1-GPU jobs on two declared devices all finish, each having
    held one of them (this machine needs no GPU for it)."""
    example = ROOT / "configs" / "gpus.toml"
    state = tmp_path / "state"
    assert main(["run", str(example), "--state-dir", str(state)]) == 0
    capsys.readouterr()
    logs = sorted((state / "logs").iterdir())
    lines = sorted(p.read_text().strip() for p in logs)
    assert len(lines) == 4
    assert {line.rsplit(" ", 1)[1] for line in lines} <= {"0", "1"}
    assert [line.split(" on ")[0] for line in lines] == [f"step {i}" for i in range(4)]
