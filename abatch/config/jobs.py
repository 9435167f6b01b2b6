"""`[[job]]` entries: dependencies between config jobs, cycles, and the order to submit them.

A config job names its queue, definition and dependencies by config name; the runtime turns
names into ids when it submits. Graph walks are iterative, so a chain of thousands of jobs
cannot exhaust the interpreter's stack.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from abatch.model.job import SubmitJobRequest

from .lines import KeyPath, LineIndex
from .messages import report_validation
from .problems import Problems, did_you_mean, name_hint, show
from .schema import LEAF, Table, check_keys, table_for

DEPENDENCY_TYPES = ("N_TO_N", "SEQUENTIAL")
MAX_DEPENDENCIES = 20

Dependency = tuple[str | None, str | None]


@dataclass
class ConfigJob:
    """A job to submit: the request (names as written; `depends_on` left None) and its deps.

    `depends_on` holds (config job name, type): (name, None), (name, "N_TO_N") or
    (None, "SEQUENTIAL").
    """

    request: SubmitJobRequest
    depends_on: list[Dependency]
    where: tuple[LineIndex, KeyPath] | None = None  # its `[[job]]` header, for `line`

    @property
    def line(self) -> int | None:
        """The line of its `[[job]]` header (looked up when asked: see LineIndex)."""
        return None if self.where is None else self.where[0].exact(self.where[1])


def parse_depends_on(value: object, path: KeyPath, problems: Problems) -> list[Dependency]:
    """The `depends_on` list of one job, its shape checked; names are checked later."""
    if not isinstance(value, list):
        problems.add(
            path,
            f"must be a list of job names or tables, not {show(value)}",
            'e.g. depends_on = ["b", { job = "c", type = "N_TO_N" }]',
        )
        return []
    if len(value) > MAX_DEPENDENCIES:
        problems.add(path, f"a job can depend on at most {MAX_DEPENDENCIES} jobs, not {len(value)}")
    out: list[Dependency] = []
    for index, entry in enumerate(value):
        dep = _dependency(entry, (*path, index), problems)
        if dep is not None:
            out.append(dep)
    return out


def _dependency(entry: object, path: KeyPath, problems: Problems) -> Dependency | None:
    if isinstance(entry, str):
        return (entry, None)
    if not isinstance(entry, dict):
        problems.add(path, f"must be a job name or a table, not {show(entry)}")
        return None
    ok = True
    for key in entry:
        if key not in ("job", "type"):
            problems.add((*path, key), "unknown key", did_you_mean(key, ("job", "type")))
            ok = False
    job, kind = entry.get("job"), entry.get("type")
    if job is not None and not isinstance(job, str):
        problems.add((*path, "job"), f"must be a job name, not {show(job)}")
        ok = False
    if kind is not None and kind not in DEPENDENCY_TYPES:
        problems.add((*path, "type"), f"must be 'N_TO_N' or 'SEQUENTIAL', not {show(kind)}")
        ok = False
    if not ok:
        return None
    if kind == "SEQUENTIAL" and job is not None:
        problems.add(
            path,
            "a SEQUENTIAL dependency takes no job: each child of this array job waits for "
            "the previous one",
        )
        return None
    if job is None and kind != "SEQUENTIAL":
        problems.add(path, "needs a job", 'e.g. { job = "b" } or { type = "SEQUENTIAL" }')
        return None
    return (job, kind)


def check_dependencies(
    entries: Sequence[JobEntry], names: Mapping[str, int], problems: Problems
) -> None:
    """Dependency names exist; SEQUENTIAL and N_TO_N fit the array sizes.

    `names` maps each job name to the index of its first `[[job]]`.
    """
    for entry in entries:
        for n, (job, kind) in enumerate(entry.depends_on):
            where = (*entry.path, "depends_on", n)
            if job is not None and job not in names:
                problems.add(where, f"unknown job {job!r}", name_hint(job, names, "job"))
                continue
            if kind == "SEQUENTIAL" and entry.array_size is None:
                problems.add(where, "SEQUENTIAL applies to array jobs only: give array_size")
            if kind == "N_TO_N" and job is not None:
                other = entries[names[job]].array_size
                if entry.array_size is None or entry.array_size != other:
                    problems.add(
                        where,
                        "N_TO_N needs two array jobs of the same size "
                        f"(this one: {_size(entry.array_size)}, {job!r}: {_size(other)})",
                    )


def _size(size: int | None) -> str:
    return "not an array job" if size is None else f"array_size {size}"


def find_cycles(edges: Sequence[Sequence[int]]) -> list[list[int]]:
    """Each dependency cycle once, as node indexes [a, b, …, a], starting at its lowest index."""
    white, grey, black = 0, 1, 2
    colour = [white] * len(edges)
    seen: set[frozenset[int]] = set()
    cycles: list[list[int]] = []
    for root in range(len(edges)):
        if colour[root] != white:
            continue
        colour[root] = grey
        stack: list[tuple[int, int]] = [(root, 0)]  # (node, next edge to follow)
        while stack:
            node, edge = stack[-1]
            if edge == len(edges[node]):
                colour[node] = black
                stack.pop()
                continue
            stack[-1] = (node, edge + 1)
            target = edges[node][edge]
            if colour[target] == white:
                colour[target] = grey
                stack.append((target, 0))
            elif colour[target] == grey:
                on_path = [n for n, _ in stack]
                cycle = on_path[on_path.index(target) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    start = cycle.index(min(cycle))
                    cycle = cycle[start:] + cycle[:start]
                    cycles.append([*cycle, cycle[0]])
    return cycles


def topological_order(edges: Sequence[Sequence[int]]) -> list[int]:
    """Dependencies first; among jobs that are ready, file order. `edges[i]` are i's deps."""
    waiting_on = [len(set(e)) for e in edges]
    dependents: list[list[int]] = [[] for _ in edges]
    for node, deps in enumerate(edges):
        for dep in set(deps):
            dependents[dep].append(node)
    ready = [n for n, count in enumerate(waiting_on) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for later in dependents[node]:
            waiting_on[later] -= 1
            if waiting_on[later] == 0:
                heapq.heappush(ready, later)
    return order


JOB_TABLE = table_for(
    SubmitJobRequest,
    "snake",
    rename={"job_name": "name"},
    exclude=frozenset({"array_properties", "depends_on"}),
    extra={"array_size": LEAF, "depends_on": LEAF},
    moved={
        "job_name": "did you mean 'name'?",
        "array_properties": "write array_size = N",
        "dependencies": "did you mean 'depends_on'?",
        **{
            key: f"a job sets {key} in container_overrides = {{ {key} = … }}"
            for key in ("command", "environment", "resource_requirements", "vcpus", "memory")
        },
    },
)
_OWN_KEYS = ("name", "array_size", "depends_on")


@dataclass
class JobEntry:
    """One `[[job]]` table as far as it could be read."""

    path: KeyPath
    name: str | None
    array_size: int | None
    depends_on: list[Dependency]
    job: ConfigJob | None


def job_entry(index: int, item: dict[str, Any], problems: Problems) -> JobEntry:
    path: KeyPath = ("job", index)
    kept = check_keys(item, JOB_TABLE, path, problems)
    deps = parse_depends_on(item.get("depends_on", []), (*path, "depends_on"), problems)
    request = validate_request(kept, JOB_TABLE, path, problems)
    name, size = item.get("name"), item.get("array_size")
    job = None
    if request is not None:
        job = ConfigJob(request, deps, (problems.lines, path))
        size = request.array_properties.size if request.array_properties else None
    return JobEntry(
        path,
        name if isinstance(name, str) else None,
        size if isinstance(size, int) and not isinstance(size, bool) else None,
        deps,
        job,
    )


def validate_request(
    kept: dict[str, Any], table: Table, path: KeyPath, problems: Problems
) -> SubmitJobRequest | None:
    """A job table (its keys already checked against `table`) as a SubmitJobRequest."""
    data: dict[str, Any] = {k: v for k, v in kept.items() if k not in _OWN_KEYS}
    if "name" in kept:
        data["job_name"] = kept["name"]
    if "array_size" in kept:
        data["array_properties"] = {"size": kept["array_size"]}
    try:
        return SubmitJobRequest.model_validate(data)
    except ValidationError as err:
        report_validation(err, table, path, problems, remap=_array_size)
    except RecursionError:
        problems.add(path, "is nested too deeply")
    return None


def _array_size(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    return ("array_size",) if loc[:1] == ("array_properties",) else loc
