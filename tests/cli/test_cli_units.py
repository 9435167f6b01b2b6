"""The CLI's pure parts on their own: log tails, progress rendering and counting, tables,
argument and error handling."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from abatch.cli import error_messages, main
from abatch.cli.common import CliError
from abatch.cli.logfiles import tail_lines
from abatch.cli.progress import ProgressDisplay, Tracker, format_elapsed, render_bar, render_plain
from abatch.cli.tables import render_table, truncate
from abatch.model.enums import JobStatus
from abatch.model.errors import StateDirLockedError
from abatch.model.job import JobRecord

S = JobStatus


def job(job_id: str, status: JobStatus = S.SUBMITTED) -> JobRecord:
    return JobRecord(
        job_id=job_id,
        job_name=job_id,
        job_queue="q",
        job_definition="d:1",
        status=status,
        created_at=0,
        seq=0,
        vcpus=1,
        memory=64,
        gpus=0,
        spec={},
    )


# ---------------------------------------------------------------------- log tails


@pytest.mark.parametrize(
    ("content", "count", "expected"),
    [
        (b"a\nb\nc\n", 2, ["b", "c"]),
        (b"a\nb\nc", 2, ["b", "c"]),
        (b"a\nb\nc\n", 10, ["a", "b", "c"]),
        (b"", 3, []),
        (b"only\n", 0, []),
        (b"crlf\r\nend\r\n", 5, ["crlf", "end"]),
        (b"\xff\xfe bad utf8\n", 1, ["\ufffd\ufffd bad utf8"]),
    ],
)
def test_tail_lines(tmp_path: Path, content: bytes, count: int, expected: list[str]) -> None:
    path = tmp_path / "log"
    path.write_bytes(content)
    assert tail_lines(path, count) == expected


def test_tail_lines_reads_only_the_end_of_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "big"
    with path.open("wb") as f:
        for i in range(200_000):
            f.write(f"line {i}\n".encode())
    assert tail_lines(path, 3) == ["line 199997", "line 199998", "line 199999"]
    one_line = tmp_path / "one-huge-line"
    one_line.write_bytes(b"x" * 5_000_000)
    (last,) = tail_lines(one_line, 2, max_bytes=100_000)
    assert len(last) == 100_000  # capped, not the whole 5 MB
    assert tail_lines(tmp_path / "missing", 5) == []


# ---------------------------------------------------------------------- progress


def test_render_bar_and_plain() -> None:
    counts = {S.SUCCEEDED: 6, S.FAILED: 1, S.RUNNING: 2, S.RUNNABLE: 3}
    line = render_bar(counts, 12, 5.4)
    assert (
        line == "[############--------] 7/12  SUCCEEDED 6  FAILED 1  RUNNING 2  RUNNABLE 3  00:05"
    )
    assert render_bar(counts, 12, 5.4, width=20) == line[:20]
    assert render_bar({}, 0, 0).startswith("[" + "#" * 20 + "] 0/0")
    assert render_plain(counts, 12, 5.44) == (
        "7/12 finished: SUCCEEDED 6  FAILED 1  RUNNING 2  RUNNABLE 3  (5.4 s)"
    )
    assert format_elapsed(3725) == "1:02:05"


def test_tracker_counts_only_its_jobs_and_sets_done() -> None:
    mine = [job("a"), job("b")]
    tracker = Tracker(mine)
    assert tracker.counts[S.SUBMITTED] == 2 and not tracker.done.is_set()
    other = job("other")
    other.status = S.RUNNING
    tracker.on_change(other)
    assert tracker.version == 0
    for status in (S.RUNNABLE, S.STARTING, S.RUNNING, S.SUCCEEDED):
        mine[0].status = status
        tracker.on_change(mine[0])
    tracker.on_change(mine[0])  # a reason-only change: no count moves
    assert tracker.version == 4 and tracker.remaining == 1
    mine[1].status = S.FAILED
    tracker.on_change(mine[1])
    assert tracker.done.is_set()
    assert +tracker.counts == {S.SUCCEEDED: 1, S.FAILED: 1}
    assert Tracker([]).done.is_set()


def test_plain_progress_prints_only_on_change() -> None:
    now = [0.0]
    tracker = Tracker([job("a")])
    out = io.StringIO()
    display = ProgressDisplay(tracker, out, tty=False, started=0.0, clock=lambda: now[0])
    display.draw()
    now[0] = 1.0
    display.draw()  # nothing changed: no line
    assert out.getvalue().count("\n") == 1
    job_a = job("a", S.SUCCEEDED)
    tracker.on_change(job_a)
    display.stop()
    display.stop()
    assert out.getvalue().splitlines()[-1] == "1/1 finished: SUCCEEDED 1  (1.0 s)"
    assert out.getvalue().count("\n") == 2


def test_tty_progress_redraws_in_place() -> None:
    now = [0.0]
    tracker = Tracker([job("a")])
    out = io.StringIO()
    display = ProgressDisplay(tracker, out, tty=True, started=0.0, clock=lambda: now[0])
    display.draw()
    display.draw()  # same counts, same second: no redraw
    now[0] = 1.2
    display.draw()  # the clock moved a second: redraw
    display.stop()
    text = out.getvalue()
    assert text.count("\r") == 3 and text.count("\x1b[K") == 3 and text.endswith("\n")
    assert "\n" not in text[:-1]


# ---------------------------------------------------------------------- tables and errors


def test_render_table_aligns_truncates_and_flattens() -> None:
    rows = [("x", None, "multi\nline"), ("yyyy", 5, "z" * 30)]
    lines = render_table(("A", "LONG HEADER", "C"), rows, {2: 10})
    assert lines == [
        "A     LONG HEADER  C",
        "x     -            multi line",
        "yyyy  5            zzzzzzz...",
    ]
    assert truncate("abcdef", 5) == "ab..." and truncate("abc", 5) == "abc"


def test_error_messages_unwrap_exception_groups() -> None:
    locked = StateDirLockedError("state directory /x is in use by the runtime with pid 7", 7)
    group = ExceptionGroup("tg", [ExceptionGroup("inner", [locked])])
    assert error_messages(group, "abatch serve") == [
        "abatch serve: state directory /x is in use by the runtime with pid 7"
    ]
    assert error_messages(CliError("bad\nworse")) == ["abatch: bad", "abatch: worse"]
    assert error_messages(ExceptionGroup("tg", [locked, ValueError("bug")])) is None
    assert error_messages(RuntimeError("a bug keeps its traceback")) is None


def test_help_and_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in (
        "run", "serve", "validate", "jobs", "describe", "logs",
        "submit", "cancel", "terminate", "queues", "ce", "definitions",
    ):  # fmt: skip
        assert command in out
    assert "exit codes:" in out
    assert main(["serve", "--help"]) == 0
    assert "NOT submitted" in capsys.readouterr().out
    assert main(["frobnicate"]) == 2
    assert main(["jobs", "--limit", "many"]) == 2
    assert "is not a whole number" in capsys.readouterr().err
    assert main([]) == 2


def test_help_is_quick_and_imports_nothing_heavy() -> None:
    code = (
        "import sys; from abatch.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pydantic', 'aiosqlite', 'anyio', 'abatch.runtime') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "HEAVY []" in proc.stdout
