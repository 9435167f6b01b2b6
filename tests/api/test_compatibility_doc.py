"""abatch/api/COMPATIBILITY.md against the server's routing tables, so the reference cannot
drift from the code: every operation the server routes has exactly one table row, in the
right section, and no row names an operation it does not route.

The truth is `abatch.api.server.OPERATIONS` and `UNSUPPORTED`, the tag operations (matched
on their path, `/v1/tags/{resourceArn}`, not in a table: taken from botocore's model),
and `abatch.api.logs.OPERATIONS`; botocore's service models say which names are AWS's.
A row's first cell names its operations, several separated by ` / ` or `,`, with anything
in parentheses (a path) left aside. Pure text and dict work: no server, no clock.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session

from abatch.api import logs, server

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "abatch" / "api" / "COMPATIBILITY.md"
README = ROOT / "README.md"

# Section heading (its start) -> the key the rows of its table are filed under.
SECTIONS = {
    "AWS Batch": "batch",
    "Local extensions": "local",
    "CloudWatch Logs": "logs",
    "abatch's own operations": "abatch",
}
NAME = re.compile(r"^[A-Z][A-Za-z0-9]+$")
CATCH_ALL = "anything else"  # the CloudWatch Logs table's last row
LINK = re.compile(r"\]\(([^)\s]+)\)")


@cache
def model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def tag_operations() -> dict[str, str]:
    """The Batch operations served on `/v1/tags/{resourceArn}`, by name, with their method."""
    batch = model("batch")
    out = {}
    for name in batch.operation_names:
        http = batch.operation_model(name).http
        if http["requestUri"].startswith("/v1/tags/"):
            out[name] = http["method"]
    return out


def rows() -> list[tuple[str, str, list[str], list[str]]]:
    """(section key, first cell, operation names, other cells) of every table row."""
    out = []
    section: str | None = None
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            title = line[3:]
            section = next((key for head, key in SECTIONS.items() if title.startswith(head)), None)
            continue
        if not line.startswith("|") or set(line) <= set("|- "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "Operation":
            continue  # a header row
        assert section is not None, f"a table outside the known sections: {line[:80]}"
        first = cells[0]
        if first == CATCH_ALL:
            out.append((section, first, [], cells[1:]))
            continue
        names = [n.strip() for n in re.split(r"[/,]", re.sub(r"\([^)]*\)", "", first))]
        bad = [n for n in names if not NAME.match(n)]
        assert not bad, f"row {first[:80]!r}: its first cell must name operations, not {bad}"
        out.append((section, first, names, cells[1:]))
    return out


def documented() -> dict[str, list[str]]:
    """Section key -> the operation names its table lists, in order."""
    out: dict[str, list[str]] = {key: [] for key in SECTIONS.values()}
    for section, _, names, _ in rows():
        out[section] += names
    return out


def test_every_routed_operation_has_exactly_one_row_and_nothing_else_does() -> None:
    tags = tag_operations()
    routed = {*server.OPERATIONS, *server.UNSUPPORTED, *tags, *logs.OPERATIONS}
    listed = [name for names in documented().values() for name in names]
    twice = sorted({n for n in listed if listed.count(n) > 1})
    assert not twice, f"listed more than once in COMPATIBILITY.md: {twice}"
    missing = sorted(routed - set(listed))
    assert not missing, f"routed by the server but missing from COMPATIBILITY.md: {missing}"
    unknown = sorted(set(listed) - routed)
    assert not unknown, f"listed in COMPATIBILITY.md but not routed by the server: {unknown}"


def test_each_operation_is_in_its_section() -> None:
    aws_batch = set(model("batch").operation_names)
    tags = tag_operations()
    # `ApiServer._tags` answers exactly these three, one per method.
    assert sorted(tags.values()) == ["DELETE", "GET", "POST"], tags
    doc = documented()
    # Every AWS Batch operation in botocore's model is served or refused by name, and the
    # AWS Batch table has a row for it.
    assert set(doc["batch"]) == aws_batch
    assert aws_batch <= {*server.OPERATIONS, *server.UNSUPPORTED, *tags}
    extensions = {op for op in server.OPERATIONS if op not in aws_batch}
    assert set(doc["abatch"]) == {op for op in extensions if op.startswith("Abatch")}
    assert set(doc["local"]) == {op for op in extensions if not op.startswith("Abatch")}
    assert set(doc["logs"]) == set(logs.OPERATIONS)
    assert set(logs.OPERATIONS) <= set(model("logs").operation_names)


def test_support_column_matches_the_routing() -> None:
    """In the AWS Batch and CloudWatch Logs tables, a row says `not supported` exactly when
    the server refuses its operations; the Logs table ends with the catch-all row."""
    seen_catch_all = False
    for section, first, names, cells in rows():
        if section not in ("batch", "logs"):
            continue
        support = cells[0]
        if first == CATCH_ALL:
            seen_catch_all = True
            assert section == "logs" and support == "not supported"
            assert "UnknownOperationException" in cells[1]
            continue
        refused = [n in server.UNSUPPORTED for n in names]
        assert all(refused) or not any(refused), f"row {first!r} mixes served and refused"
        if refused[0]:
            assert support == "not supported", first
            assert "does not support" in cells[1] or "as above" in cells[1], first
        else:
            assert support in ("supported", "partly supported"), first
    assert seen_catch_all


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (lines in code blocks are not headings)."""
    out = set()
    fenced = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif line.startswith("#") and not fenced:
            out.add(_slug(line.lstrip("#")))
    return out


def _check_links(source: Path, targets: list[str]) -> list[str]:
    broken = []
    for target in targets:
        if "://" in target or target.startswith("mailto:"):
            continue
        file, _, anchor = target.partition("#")
        path = (source.parent / file).resolve() if file else source
        missing = not path.exists()
        if missing or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(target)
    return broken


def test_links_between_the_readme_and_the_reference_resolve() -> None:
    doc_links = LINK.findall(DOC.read_text())
    assert not _check_links(DOC, doc_links)
    readme = README.read_text()
    # The README's own anchors, and every link into the reference (with its anchor).
    readme_links = [t for t in LINK.findall(readme) if t.startswith("#") or "COMPATIBILITY.md" in t]
    assert not _check_links(README, readme_links)


def test_the_readme_points_at_the_reference_and_keeps_no_operation_table() -> None:
    """The per-operation tables live only in COMPATIBILITY.md: the README's API section
    links to it and has no table row naming an operation."""
    text = README.read_text()
    start = text.index("\n## The AWS-compatible API\n")
    end = text.index("\n## ", start + 1)
    section = text[start:end]
    assert "](abatch/api/COMPATIBILITY.md)" in section
    routed = {*server.OPERATIONS, *server.UNSUPPORTED, *tag_operations(), *logs.OPERATIONS}
    table_rows = [line for line in section.splitlines() if line.startswith("|")]
    stale = [r[:60] for r in table_rows if any(op in r.split("|")[1] for op in routed)]
    assert not stale, f"operation rows in the README's API section: {stale}"
