"""`RemoteBackend`: the terminal UI attached to a runtime in another process, through its
HTTP API (`abatch tui --attach`, or found through the state directory's `api.json`).

Every read and action is one API call made in a worker thread (`ApiClient` blocks), so the
UI never waits on the network. AWS Batch operations where they say what the UI needs
(CancelJob, TerminateJob, SubmitJob, UpdateJobQueue, UpdateComputeEnvironment,
DescribeJobQueues/JobDefinitions, CloudWatch Logs GetLogEvents); abatch's `Abatch*`
extension operations (`abatch/api/uiview.py`) for what AWS has no call for: the virtual
table's counts, offset pages and sorts, a job's detail view, the queues' counts and the
capacity in use, and a long poll for changes.

Changes: a daemon thread long-polls `AbatchWatch` (it answers as soon as the runtime's change
version moves, else after `WAIT_S`) and pokes the subscribers on the UI's event loop, no more
often than every `MIN_GAP_S`; the screens coalesce on their own timers as with a local runtime.
When the runtime cannot be reached, reads answer with what they last read, `problem` says why
(the app shows it in its title) and the watcher retries every second until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from abatch.client import ApiClient, ApiConnectionError
from abatch.model.errors import AbatchError, ClientError

from .backend import (
    CeRow,
    InstanceRow,
    JobInfo,
    JobRow,
    LogCursor,
    PageFilter,
    QueueRow,
    SubmitForm,
)
from .docs import ce_from_doc, info_from_doc, instance_from_doc, queue_from_doc, row_from_doc
from .ordering import SortedPages
from .recount import Recount

WAIT_S = 2  # a long poll's longest wait: also how soon a queue's state change shows
MIN_GAP_S = 0.2  # between two polls, so a burst of changes costs few redraws
RETRY_S = 1.0
COUNTS_EVERY = 2.0  # seconds between recounts of every queue's jobs
CACHE = 64  # reads remembered, answered again while the runtime cannot be reached
T = TypeVar("T")


def filter_body(f: PageFilter) -> dict[str, Any]:
    body: dict[str, Any] = {"sort": f.sort, "descending": f.descending}
    for key, value in (
        ("jobQueue", f.queue),
        ("jobStatus", f.status),
        ("namePrefix", f.name_prefix),
        ("arrayJobId", f.parent),
    ):
        if value is not None:
            body[key] = value
    return body


class RemoteBackend:
    def __init__(self, client: ApiClient, watch_client: ApiClient | None = None) -> None:
        self.client = client
        self.watch_client = watch_client or ApiClient(
            client.base_url, client.credentials, timeout=WAIT_S + 10
        )
        self.title = f"abatch · attached to {client.base_url}"
        self.problem: str | None = None
        self._queues: list[str] = []
        self._definitions: list[str] = []
        self._counts: dict[str, dict[str, int]] = {}
        self._recount = Recount(COUNTS_EVERY, self._fire)
        self._last: OrderedDict[str, Any] = OrderedDict()
        self._sorted = SortedPages(self._order, self._rows_at)
        self._listeners: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    async def connect(self) -> RemoteBackend:
        """Check the runtime answers and read the queue and definition names; raises
        ApiConnectionError (or the runtime's ClientError) when it does not."""
        await self._refresh_names()
        return self

    # ------------------------------------------------------------------ transport

    async def _call(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        """One Batch operation in a worker thread; a connection failure is recorded in
        `problem` (and raised, as is the runtime's refusal)."""
        try:
            out = await asyncio.to_thread(self.client.call, op, body)
        except ApiConnectionError as exc:
            self._lost(str(exc))
            raise
        self._found()
        return out

    async def _read(self, op: str, body: dict[str, Any], empty: T, pick: Callable[[Any], T]) -> T:
        """A read: `pick(answer)`; while the runtime cannot be reached or refuses (say, a
        signature it no longer takes), the last answer to the same read, else `empty`, with
        `problem` saying why: a read never raises into the UI."""
        key = op + json.dumps(body, sort_keys=True)
        try:
            value = pick(await self._call(op, body))
        except AbatchError as exc:
            self._lost(str(exc))
            return self._last.get(key, empty)  # type: ignore[no-any-return]
        self._last[key] = value
        self._last.move_to_end(key)
        while len(self._last) > CACHE:
            self._last.popitem(last=False)
        return value

    def _lost(self, why: str, always: bool = False) -> None:
        if self.problem != why or always:
            self.problem = why
            self._fire()

    def _found(self) -> None:
        if self.problem is not None:
            self.problem = None
            self._fire()

    # ------------------------------------------------------------------ events

    def subscribe(self, fn: Callable[[], None]) -> Callable[[], None]:
        self._listeners.append(fn)
        if self._thread is None:
            loop = asyncio.get_running_loop()
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._watch, args=(loop,), name="abatch-tui-watch", daemon=True
            )
            self._thread.start()

        def unsubscribe() -> None:
            if fn in self._listeners:
                self._listeners.remove(fn)
            if not self._listeners:
                self.close()

        return unsubscribe

    def close(self) -> None:
        """Stop watching (the thread ends after its current poll; it is a daemon)."""
        self._stop.set()
        self._thread = None
        self._recount.close()

    def _fire(self) -> None:
        for fn in list(self._listeners):
            fn()

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        stop = self._stop
        version: str | None = None
        while not stop.is_set():
            body: dict[str, Any] = {"waitSeconds": WAIT_S}
            if version is not None:
                body["since"] = version
            try:
                out = self.watch_client.call("AbatchWatch", body)
            except AbatchError as exc:
                if not self._post(loop, self._lost, str(exc), True):
                    return
                stop.wait(RETRY_S)
                continue
            if stop.is_set():
                return
            changed = out.get("version") != version
            version = out.get("version")
            if (changed or self.problem is not None) and not self._post(loop, self._poke):
                return
            stop.wait(MIN_GAP_S)

    def _poke(self) -> None:
        self._recount.changed()
        self._found()
        self._fire()

    @staticmethod
    def _post(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: Any) -> bool:
        """Run `fn(*args)` on the UI's loop; False once that loop is gone."""
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop closed: the app has quit
            return False
        return True

    # ------------------------------------------------------------------ jobs

    async def job_count(self, f: PageFilter) -> int:
        if not f.by_position:
            return await self._sorted.count(f)
        return await self._read("AbatchCountJobs", filter_body(f), 0, lambda o: int(o["count"]))

    async def job_page(self, f: PageFilter, offset: int, limit: int) -> list[JobRow]:
        if not f.by_position:
            return await self._sorted.page(f, offset, limit)
        body = {**filter_body(f), "offset": max(0, offset), "limit": limit}
        return await self._read("AbatchListJobPage", body, [], _rows)

    async def _order(self, f: PageFilter) -> list[int]:
        return await self._read(
            "AbatchOrderJobs", filter_body(f), [], lambda o: [int(k) for k in o["keys"]]
        )

    async def _rows_at(self, keys: list[int]) -> list[JobRow]:
        return await self._read("AbatchGetJobsByKey", {"keys": keys}, [], _rows)

    async def job_info(self, job_id: str) -> JobInfo | None:
        doc = await self._read("AbatchDescribeJobView", {"jobId": job_id}, None, _view)
        return None if doc is None else info_from_doc(doc)

    # ------------------------------------------------------------------ resources

    async def queues(self) -> list[QueueRow]:
        counts = self._recount.due()
        out = await self._read("AbatchOverview", {"counts": counts}, None, _same)
        if counts and (out is None or "counts" not in out):
            self._recount.changed()  # not counted after all: the next reload tries again
        if out is None:
            return []
        if "counts" in out:
            self._counts = out["counts"]
        self._queues = sorted(q["name"] for q in out["jobQueues"])
        return [queue_from_doc(q, self._counts.get(q["name"], {})) for q in out["jobQueues"]]

    async def compute_environments(self) -> list[CeRow]:
        out = await self._read("AbatchOverview", {}, None, _same)
        return [] if out is None else [ce_from_doc(c) for c in out["computeEnvironments"]]

    async def instances(self) -> list[InstanceRow]:
        return await self._read(
            "ListInstances", {}, [], lambda o: [instance_from_doc(i) for i in o["instances"]]
        )

    def queue_names(self) -> list[str]:
        return list(self._queues)

    def definition_names(self) -> list[str]:
        return list(self._definitions)

    async def _refresh_names(self) -> None:
        queues = await self._call("DescribeJobQueues", {})
        self._queues = sorted(q["jobQueueName"] for q in queues["jobQueues"])
        names: set[str] = set()
        body: dict[str, Any] = {"status": "ACTIVE"}
        while True:
            page = await self._call("DescribeJobDefinitions", body)
            names.update(d["jobDefinitionName"] for d in page["jobDefinitions"])
            if not page.get("nextToken"):
                break
            body["nextToken"] = page["nextToken"]
        self._definitions = sorted(names)

    # ------------------------------------------------------------------ actions

    async def cancel(self, job_id: str, reason: str) -> None:
        await self._call("CancelJob", {"jobId": job_id, "reason": reason})

    async def terminate(self, job_id: str, reason: str) -> None:
        await self._call("TerminateJob", {"jobId": job_id, "reason": reason})

    async def resubmit(self, job_id: str) -> str:
        return str((await self._call("AbatchResubmitJob", {"jobId": job_id}))["jobId"])

    async def submit(self, form: SubmitForm) -> str:
        out = await self._call("SubmitJob", form.submit_body())
        with contextlib.suppress(AbatchError):
            await self._refresh_names()  # a definition registered since
        return str(out["jobId"])

    async def set_queue_state(self, name: str, enabled: bool) -> None:
        state = "ENABLED" if enabled else "DISABLED"
        await self._call("UpdateJobQueue", {"jobQueue": name, "state": state})

    async def set_ce_state(self, name: str, enabled: bool) -> None:
        state = "ENABLED" if enabled else "DISABLED"
        await self._call("UpdateComputeEnvironment", {"computeEnvironment": name, "state": state})

    async def reclaim(self, instance_id: str) -> None:
        await self._call("ReclaimInstance", {"instanceId": instance_id})

    # ------------------------------------------------------------------ logs

    async def log_tail(self, stream: str, lines: int) -> tuple[list[str], LogCursor]:
        return await self._log(stream, {"startFromHead": False, "limit": lines}, 0)

    async def log_read(self, stream: str, at: LogCursor) -> tuple[list[str], LogCursor]:
        body: dict[str, Any] = {"startFromHead": True}
        if isinstance(at, str):
            body["nextToken"] = at
        return await self._log(stream, body, at)

    async def _log(
        self, stream: str, params: dict[str, Any], at: LogCursor
    ) -> tuple[list[str], LogCursor]:
        """GetLogEvents; a stream not written yet reads as empty, from where it was."""
        try:
            out = await asyncio.to_thread(self.client.get_log_events, stream, **params)
        except ApiConnectionError as exc:
            self._lost(str(exc))
            return [], at
        except ClientError:  # no such stream yet: the attempt has not started writing
            return [], at
        self._found()
        lines = [str(e["message"]) for e in out.get("events") or []]
        return lines, str(out.get("nextForwardToken") or at)


def _rows(out: dict[str, Any]) -> list[JobRow]:
    return [row_from_doc(d) for d in out["jobs"]]


def _view(out: dict[str, Any]) -> dict[str, Any] | None:
    view: dict[str, Any] | None = out.get("view")
    return view


def _same(out: dict[str, Any]) -> dict[str, Any]:
    return out
