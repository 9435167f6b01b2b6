"""The pure pieces: row renderers, filter and parameter parsing, bounded log reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from abatch.model.enums import JobStatus
from abatch.tui.backend import CeRow, JobRow, QueueRow
from abatch.tui.logfile import read_from, tail
from abatch.tui.rows import (
    STATUS_STYLE,
    ce_cells,
    counts_text,
    duration,
    gauge,
    header_text,
    job_line,
    parse_filter,
    parse_parameters,
    queue_cells,
)

S = JobStatus


def row(**kw: object) -> JobRow:
    base: dict[str, object] = {
        "job_id": "id-1",
        "name": "train",
        "queue": "gpu",
        "status": S.RUNNING,
        "created_at": 0,
        "started_at": 1000,
        "stopped_at": 62_000,
        "attempts": 2,
        "exit_code": 3,
        "reason": "Essential container in task exited",
    }
    base.update(kw)
    return JobRow(**base)  # type: ignore[arg-type]


def test_job_line_has_every_column_at_fixed_offsets() -> None:
    line = job_line(row())
    head = header_text().plain
    text = line.plain
    assert text.startswith("id-1")
    assert text[head.index("NAME") :].startswith("train")
    assert text[head.index("STATUS") :].startswith("RUNNING")
    assert text[head.index("REASON") :].startswith("Essential container")
    assert "1m01s" in text
    # The status cell carries the status colour, a 16-colour ANSI name.
    spans = [s for s in line.spans if str(s.style) == STATUS_STYLE[S.RUNNING]]
    assert spans and text[spans[0].start : spans[0].end].strip() == "RUNNING"


def test_job_line_array_size_and_truncation() -> None:
    text = job_line(row(name="x" * 40, array_size=50)).plain
    assert "…" in text
    assert "[50]" in job_line(row(array_size=50)).plain


def test_duration() -> None:
    assert duration(None, None) == "-"
    assert duration(0, 1500) == "1.5s"
    assert duration(0, 3_600_000 * 2 + 60_000) == "2h01m"
    assert duration(0, None, now_ms=30_000) == "30.0s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (None, None, None)),
        ("train", (None, None, "train")),
        ("q:gpu status:running train", ("gpu", S.RUNNING, "train")),
        ("s:fail", (None, S.FAILED, None)),
        ("s:ok", (None, S.SUCCEEDED, None)),
        ("queue:q s:runnab", ("q", S.RUNNABLE, None)),
    ],
)
def test_parse_filter(text: str, expected: tuple[object, ...]) -> None:
    assert parse_filter(text) == expected


def test_parse_filter_rejects_unknown_status() -> None:
    with pytest.raises(ValueError, match="no status"):
        parse_filter("s:nope")
    with pytest.raises(ValueError, match="no status"):
        parse_filter("s:runn")  # RUNNABLE or RUNNING: ambiguous


def test_parse_parameters() -> None:
    assert parse_parameters('a=1 b="two words" c=') == {"a": "1", "b": "two words", "c": ""}
    with pytest.raises(ValueError, match="key=value"):
        parse_parameters("novalue")


def test_queue_and_ce_cells() -> None:
    q = QueueRow("q", "ENABLED", 10, ("ce",), {S.RUNNABLE: 3, S.SUCCEEDED: 10})
    cells = queue_cells(q)
    assert cells[0] == "q" and cells[2] == "10"
    assert str(cells[4]) == "RUNNABLE 3  OK 10"
    assert str(counts_text({})) == "-"
    c = CeRow("ce", "DISABLED", "MANAGED EC2", (4.0, 8.0), (1024, 4096), (0, 0))
    ce = ce_cells(c)
    assert str(ce[3]) == "[#####-----] 4/8"
    assert str(ce[4]).endswith("1024/4096 MiB")
    assert str(ce[5]) == "-"
    assert "red" in str(gauge(8, 8).spans[0].style)


def test_tail_reads_only_the_end(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with open(path, "wb") as f:
        for i in range(200_000):
            f.write(f"line {i}\n".encode())
    lines, end = tail(path, 3)
    assert lines == ["line 199997", "line 199998", "line 199999"]
    assert end == path.stat().st_size
    assert tail(tmp_path / "missing", 5) == ([], 0)


def test_read_from_holds_back_a_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"a\nb\npart")
    lines, pos = read_from(path, 0)
    assert lines == ["a", "b"] and pos == 4
    with open(path, "ab") as f:
        f.write(b"ial\n")
    assert read_from(path, pos) == (["partial"], len(b"a\nb\npartial\n"))
    assert read_from(tmp_path / "missing", 7) == ([], 7)


def test_a_row_read_over_the_api_is_the_local_row() -> None:
    """The attached UI reads rows as JSON (`job_doc`); they must be the local rows exactly."""
    from abatch.runtime.view import job_doc
    from abatch.tui.docs import row_from_doc
    from abatch.tui.local import job_row

    from .demo import JOBS

    for job in JOBS:
        assert row_from_doc(job_doc(job)) == job_row(job)
