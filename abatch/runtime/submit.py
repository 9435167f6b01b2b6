"""SubmitJob: validate against current state, build the job records, persist, wake the loop.

A submission is acknowledged only once it is committed, so a job that was answered is never
lost, and it is scheduled only once stored. Many submissions in one call share one commit;
an array job of 10,000 children is one call and one commit.

Array children are `parent:i`; their effective dependencies are worked out here (the
parent's own dependencies, `SEQUENTIAL` on `parent:i-1`, `N_TO_N` on `other:i`) and kept in
the hidden spec key `_waitFor`, so a restarted runtime rebuilds the graph from the store.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from abatch.model import fargate, strict
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError, NotFoundError
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.model.resources import ContainerProperties
from abatch.scheduler.nodes import multinode_refusal, node_environment, node_layout
from abatch.scheduler.resolve import effective_spec, resources_of

from .bulk import collector_paused
from .graph import ArrayState, Graph, RecentlyFinished
from .lifecycle import platform_of

if TYPE_CHECKING:
    from abatch.config import ConfigJob
    from abatch.config.settings import RuntimeSettings
    from abatch.model.resources import JobDefinition, JobQueue
    from abatch.store.sqlite import SqliteStore

    from .bus import EventBus
    from .registry import Registry

S = JobStatus


class SubmitMixin:
    settings: RuntimeSettings
    registry: Registry
    store: SqliteStore
    bus: EventBus
    graph: Graph
    recent: RecentlyFinished
    jobs: dict[str, JobRecord]
    node_jobs: dict[str, list[JobRecord]]
    runnable: dict[str, deque[JobRecord]]
    _submitted: list[JobRecord]
    _seq_hi: int
    _wake: asyncio.Event
    _now: Callable[[], int]
    _share_admit: Callable[[Iterable[JobRecord], int], None]  # SharesMixin
    _share_enter: Callable[[Iterable[JobRecord]], None]

    async def submit(self, req: SubmitJobRequest) -> JobRecord:
        return (await self.submit_many([req]))[0]

    async def submit_many(self, reqs: list[SubmitJobRequest]) -> list[JobRecord]:
        """Submit all or none: every request is checked before any is stored. Returns the
        submitted jobs (array parents, not their children)."""
        with collector_paused(sum(_jobs_in(r) for r in reqs)):
            batch = Batch(self._now())
            await self._known_statuses(batch, reqs)
            for r in reqs:
                self._prepare(r, batch)
            await self._commit(batch)
            return batch.top

    async def submit_config_jobs(self, config_jobs: list[ConfigJob]) -> list[JobRecord]:
        """Jobs of a config in dependency order; `depends_on` names become job ids."""
        from abatch.model.job import JobDependency

        with collector_paused(sum(_jobs_in(cj.request) for cj in config_jobs)):
            batch = Batch(self._now())
            ids: dict[str, str] = {}
            for cj in config_jobs:
                deps = [
                    JobDependency(job_id=ids[name] if name is not None else None, type=kind)
                    for name, kind in cj.depends_on
                ]
                req = cj.request.model_copy(update={"depends_on": deps or None})
                ids[req.job_name] = self._prepare(req, batch).job_id
            await self._commit(batch)
            return batch.top

    # ------------------------------------------------------------------ internals

    async def _known_statuses(self, batch: Batch, reqs: list[SubmitJobRequest]) -> None:
        """Statuses of finished jobs named as dependencies (unfinished ones are in memory)."""
        wanted = {
            d.job_id
            for r in reqs
            for d in r.depends_on or []
            if d.job_id is not None and d.job_id not in self.jobs
        }
        if wanted:
            await self.store.flush_for_read()
            for job in await self.store.get_jobs(sorted(wanted)):
                batch.finished[job.job_id] = job

    def _lookup(self, job_id: str, batch: Batch) -> JobRecord | None:
        return batch.by_id.get(job_id) or self.jobs.get(job_id) or batch.finished.get(job_id)

    def _prepare(self, req: SubmitJobRequest, batch: Batch) -> JobRecord:
        # The requests of one call mostly name the same queue and definition: each pair is
        # looked up and checked against the other once (a failed lookup fails the call).
        pair = batch.resolved.get((req.job_queue, req.job_definition))
        jq = pair[0] if pair is not None else self.registry.queue_for_submit(req.job_queue)
        if jq.scheduling_policy_arn is not None and req.share_identifier is None:
            raise ClientError(
                f"job queue {jq.job_queue_name!r} has a fair-share scheduling policy; "
                "shareIdentifier is required"
            )
        if jq.scheduling_policy_arn is None and req.share_identifier is not None:
            raise ClientError(
                f"job queue {jq.job_queue_name!r} has no scheduling policy (FIFO); "
                "shareIdentifier is not allowed"
            )
        jd = pair[1] if pair is not None else self.registry.definition(req.job_definition)
        if jd.node_properties is not None:
            return self._prepare_multinode(req, jq, jd, batch)
        if jd.container_properties is None:
            raise ClientError(
                f"job definition {jd.job_definition_name}:{jd.revision} is {jd.type.value}; "
                "only container job definitions can be submitted"
            )
        if req.node_overrides is not None:
            raise ClientError("nodeOverrides apply to multi-node job definitions only")
        if pair is None:
            self._check_platform(jq, jd)
            batch.resolved[(req.job_queue, req.job_definition)] = (jq, jd)
        self._check_strict(req, jd, definition=pair is None)
        spec = effective_spec(jd, req, self.registry.aws_of(jd))
        if jd.is_fargate:
            _check_fargate(spec["container"], jd)
        if not spec["container"].get("command"):
            raise ClientError(
                f"job definition {jd.job_definition_name}:{jd.revision} has no command and the "
                "submission gives none in containerOverrides"
            )
        size = req.array_properties.size if req.array_properties else None
        plain, sequential, n_to_n = self._dependencies(req, size, batch)
        if req.depends_on:
            spec["dependsOn"] = [d.to_aws() for d in req.depends_on]
        common = _record_fields(req, jq, jd, resources_of(spec["container"]))
        parent = self._record(new_job_id(), common, spec, batch)
        if size is None:
            if plain:
                parent.spec["_waitFor"] = plain
            batch.add(parent, top=True)
            return parent
        parent.spec["arrayProperties"] = {"size": size}
        batch.add(parent, top=True)
        for i in range(size):
            waits = list(plain)
            if sequential and i > 0:
                waits.append(f"{parent.job_id}:{i - 1}")
            if n_to_n is not None:
                waits.append(f"{n_to_n}:{i}")
            child_spec = dict(spec)
            child_spec["arrayProperties"] = {"index": i}
            child_spec["_parent"] = parent.job_id
            child_spec["_env"] = {
                "AWS_BATCH_JOB_ARRAY_INDEX": str(i),
                "AWS_BATCH_JOB_ARRAY_SIZE": str(size),
            }
            if waits:
                child_spec["_waitFor"] = waits
                child_spec["dependsOn"] = [{"jobId": w} for w in waits]
            else:
                child_spec.pop("dependsOn", None)
            batch.add(self._record(f"{parent.job_id}:{i}", common, child_spec, batch))
        return parent

    def _prepare_multinode(
        self, req: SubmitJobRequest, jq: JobQueue, jd: JobDefinition, batch: Batch
    ) -> JobRecord:
        """A multi-node job and its nodes `jobId#0` … (reference §4)."""
        where = f"job definition {jd.job_definition_name}:{jd.revision} is multinode"
        assert jd.node_properties is not None
        if req.array_properties is not None:
            raise ClientError(f"{where}; multi-node jobs can't be array jobs")
        if req.container_overrides is not None:
            raise ClientError(
                f"{where}; use nodeOverrides.nodePropertyOverrides instead of containerOverrides"
            )
        if "FARGATE" in (jd.platform_capabilities or []):
            raise ClientError(f"{where}; multi-node parallel jobs are not supported on Fargate")
        for name in self.registry.ce_names(jq):
            ce = self.registry.compute_environments.get(name)
            why = multinode_refusal(ce) if ce is not None else None
            if why is not None:
                raise ClientError(
                    f"job queue {jq.job_queue_name!r}: {why}; multi-node parallel jobs are not "
                    "supported on SPOT, FARGATE, FARGATE_SPOT or UNMANAGED compute environments"
                )
        try:
            layout = node_layout(jd.node_properties, req.node_overrides)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        self._check_strict(req, jd)
        spec = effective_spec(jd, req, self.registry.aws_of(jd))
        spec.pop("container", None)
        node_props = jd.node_properties.to_aws()
        node_props["numNodes"] = layout.num_nodes
        spec["nodeProperties"] = node_props
        plain, _, _ = self._dependencies(req, None, batch)
        if req.depends_on:
            spec["dependsOn"] = [d.to_aws() for d in req.depends_on]
        if plain:
            spec["_waitFor"] = plain
        common = _record_fields(req, jq, jd, layout.totals())
        parent = self._record(new_job_id(), common, spec, batch)
        batch.add(parent, top=True)
        shared: dict[str, Any] = {
            k: spec[k] for k in ("parameters", "platformCapabilities", "tags") if k in spec
        }
        nodes = []
        for i, container in enumerate(layout.containers):
            node_spec: dict[str, Any] = {
                **shared,
                "container": container,
                "nodeProperties": {"numNodes": layout.num_nodes, "mainNode": layout.main_node},
                "nodeDetails": {"nodeIndex": i, "isMainNode": i == layout.main_node},
                "_mnp": parent.job_id,
                "_env": node_environment(i, layout),
            }
            v, m, g = resources_of(container)
            node_common = {**common, "vcpus": v, "memory": m, "gpus": g}
            node = self._record(f"{parent.job_id}#{i}", node_common, node_spec, batch)
            batch.add(node)
            nodes.append(node)
        batch.nodes[parent.job_id] = nodes
        return parent

    def _record(
        self, job_id: str, common: dict[str, Any], spec: dict[str, Any], batch: Batch
    ) -> JobRecord:
        seq = self._seq_hi
        self._seq_hi += 1
        return JobRecord(
            job_id=job_id,
            status=S.SUBMITTED,
            created_at=batch.now,
            seq=seq,
            spec=spec,
            history=[(S.SUBMITTED, batch.now)],
            **common,
        )

    def _dependencies(
        self, req: SubmitJobRequest, size: int | None, batch: Batch
    ) -> tuple[list[str], bool, str | None]:
        plain: list[str] = []
        sequential = False
        n_to_n: str | None = None
        for i, dep in enumerate(req.depends_on or []):
            where = f"dependsOn[{i}]"
            if dep.type == "SEQUENTIAL":
                if dep.job_id is not None:
                    raise ClientError(f"{where}: a SEQUENTIAL dependency takes no jobId")
                if size is None:
                    raise ClientError(f"{where}: SEQUENTIAL applies to array jobs only")
                sequential = True
                continue
            if dep.job_id is None:
                raise ClientError(f"{where}: jobId is required")
            target = self._lookup(dep.job_id, batch)
            if target is None:
                raise NotFoundError(f"{where}: job {dep.job_id} does not exist")
            if dep.type == "N_TO_N":
                other = (target.spec.get("arrayProperties") or {}).get("size")
                if size is None or other is None:
                    raise ClientError(f"{where}: N_TO_N needs two array jobs")
                if other != size:
                    raise ClientError(
                        f"{where}: N_TO_N needs arrays of the same size ({size} and {other})"
                    )
                n_to_n = target.job_id
            else:
                plain.append(target.job_id)
        return plain, sequential, n_to_n

    def _check_platform(self, jq: JobQueue, jd: JobDefinition) -> None:
        """A FARGATE definition runs only on a Fargate queue, any other only on an EC2 one."""
        wanted = "FARGATE" if jd.is_fargate else "EC2"
        ces = [self.registry.compute_environments.get(n) for n in self.registry.ce_names(jq)]
        platforms = {platform_of(ce) for ce in ces if ce is not None}
        if platforms and wanted not in platforms:
            raise ClientError(
                f"Job Queue {jq.job_queue_name!r} is attached to Compute Environment(s) that "
                f"can not run Jobs with capability {wanted} (job definition "
                f"{jd.job_definition_name}:{jd.revision} has platformCapabilities {wanted})"
            )

    def _check_strict(
        self, req: SubmitJobRequest, jd: JobDefinition, *, definition: bool = True
    ) -> None:
        """Strict mode, first on what the request itself gives (naming its own fields,
        `containerOverrides.…`, `nodeOverrides.…`), then on its definition (one registered
        before strict mode was turned on), named as such; `definition=False` when an earlier
        request of the batch has checked it. Between them they cover the merged spec: a
        job's image, timeout and resources come from one or the other."""
        if not self.settings.strict:
            return
        problems = strict.request_problems(req, fargate=jd.is_fargate)
        if problems:
            raise ClientError(strict.problems_text(problems))
        problems = strict.definition_problems(jd) if definition else []
        if problems:
            raise ClientError(
                f"job definition {jd.job_definition_name}:{jd.revision}: "
                + strict.problems_text(problems)
            )

    async def _commit(self, batch: Batch) -> None:
        # Checked and counted before the first await, so two submissions at once cannot
        # both take the 500th active share identifier.
        self._share_admit(batch.records, batch.now)
        self._share_enter(batch.records)
        self.store.insert_jobs(batch.records)
        await self.store.flush()
        for parent in batch.top:
            size = (parent.spec.get("arrayProperties") or {}).get("size")
            if size is not None:
                state = ArrayState(size)
                state.counts[S.SUBMITTED] = size
                self.graph.arrays[parent.job_id] = state
        # Scheduled only once stored: a job that runs has always been recorded first.
        for job in batch.records:
            self.jobs[job.job_id] = job
        self.node_jobs.update(batch.nodes)
        for job in batch.records:
            self._link(job, batch.finished)
        # Nodes are never queued: they follow their job.
        self._submitted.extend(j for j in batch.records if j.multinode_parent is None)
        for job in batch.top:
            self.bus.publish(job)
        self._wake.set()

    def _link(self, job: JobRecord, finished: dict[str, JobRecord]) -> None:
        """Enter a job's waits into the graph; note it if a dependency already failed."""
        for dep in job.spec.get("_waitFor") or []:
            target = self.jobs.get(dep)
            if target is not None:
                self.graph.add_wait(job.job_id, dep)
                continue
            # Finished, possibly while this submission was being committed.
            status = self.recent.get(dep)
            if status is None and dep in finished:
                status = finished[dep].status
            if status is S.FAILED:
                self.graph.doomed.add(job.job_id)


def _check_fargate(container: dict[str, Any], jd: JobDefinition) -> None:
    """The job's container after its overrides, by Fargate's rules (overrides can change
    its size)."""
    try:
        props = ContainerProperties.model_validate(container)
    except ValidationError as exc:
        raise ClientError(f"container: {exc.errors()[0]['msg']}") from None
    problems = fargate.container_problems(props)
    if problems:
        raise ClientError(
            f"job definition {jd.job_definition_name}:{jd.revision} runs on Fargate; the job's "
            f"container (with containerOverrides): {fargate.problems_text(problems)}"
        )


def _record_fields(
    req: SubmitJobRequest,
    jq: JobQueue,
    jd: JobDefinition,
    resources: tuple[float, int, int],
) -> dict[str, Any]:
    """The JobRecord fields a submission fixes, whatever kind of job it is."""
    vcpus, memory, gpus = resources
    return {
        "job_name": req.job_name,
        "job_queue": jq.job_queue_name,
        "job_definition": f"{jd.job_definition_name}:{jd.revision}",
        "vcpus": vcpus,
        "memory": memory,
        "gpus": gpus,
    }


class Batch:
    """Records prepared by one submit call, visible to later requests of the same call."""

    def __init__(self, now: int) -> None:
        self.now = now
        self.records: list[JobRecord] = []
        self.top: list[JobRecord] = []
        self.by_id: dict[str, JobRecord] = {}
        self.finished: dict[str, JobRecord] = {}
        self.nodes: dict[str, list[JobRecord]] = {}  # multi-node job -> its nodes
        # (queue ref, definition ref) -> the pair, found and checked by an earlier request
        # (container definitions only)
        self.resolved: dict[tuple[str, str], tuple[JobQueue, JobDefinition]] = {}

    def add(self, job: JobRecord, top: bool = False) -> None:
        self.records.append(job)
        self.by_id[job.job_id] = job
        if top:
            self.top.append(job)


def _jobs_in(req: SubmitJobRequest) -> int:
    """How many job records a request makes (an array job: its parent and children)."""
    return 1 + (req.array_properties.size if req.array_properties else 0)


_RANDOM = bytearray()


def new_job_id() -> str:
    """A random (version 4) UUID in its usual text form, as str(uuid.uuid4()) gives, at a
    third of the cost: the random bytes come from the OS 4 KiB at a time, not one call per
    job (100,000 submissions made 100,000 urandom calls)."""
    global _RANDOM
    if len(_RANDOM) < 16:
        _RANDOM = bytearray(os.urandom(4096))
    b = _RANDOM[-16:]
    del _RANDOM[-16:]
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[b[8] & 3]}{h[17:20]}-{h[20:]}"
