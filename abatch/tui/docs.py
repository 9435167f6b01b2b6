"""The view's JSON documents (`abatch.runtime.view.job_doc`, `job_view`, and the API's
`AbatchOverview`) read into the UI's rows. Both backends read a job's detail through here, so
what an attached UI shows is what a local one shows."""

from __future__ import annotations

from typing import Any

from abatch.model.enums import ALL_STATUSES, JobStatus

from .backend import AttemptRow, CeRow, InstanceRow, JobInfo, JobRow, QueueRow


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def row_from_doc(d: dict[str, Any]) -> JobRow:
    return JobRow(
        job_id=str(d["jobId"]),
        name=str(d["jobName"]),
        queue=str(d["jobQueue"]),
        status=JobStatus(d["status"]),
        created_at=int(d["createdAt"]),
        started_at=_int(d.get("startedAt")),
        stopped_at=_int(d.get("stoppedAt")),
        vcpus=float(d.get("vcpus") or 0.0),
        memory=int(d.get("memory") or 0),
        gpus=int(d.get("gpus") or 0),
        attempts=int(d.get("attempts") or 0),
        exit_code=_int(d.get("exitCode")),
        reason=d.get("statusReason"),
        array_size=_int(d.get("arraySize")),
    )


def info_from_doc(d: dict[str, Any]) -> JobInfo:
    summary = d.get("arraySummary")
    return JobInfo(
        row=row_from_doc(d["job"]),
        detail=dict(d["detail"]),
        attempts=[
            AttemptRow(
                int(a["number"]),
                str(a["logStreamName"]),
                _int(a.get("startedAt")),
                _int(a.get("stoppedAt")),
                _int(a.get("exitCode")),
                a.get("reason"),
                a.get("statusReason"),
            )
            for a in d.get("attempts") or []
        ],
        history=[(str(s), int(t)) for s, t in d.get("history") or []],
        why=d.get("why"),
        position=_int(d.get("queuePosition")),
        depends_on=[str(j) for j in d.get("dependsOn") or []],
        dependents=[(str(i), str(n)) for i, n in d.get("dependents") or []],
        array_summary={str(k): int(v) for k, v in summary.items()} if summary else None,
    )


def queue_from_doc(d: dict[str, Any], counts: dict[str, int]) -> QueueRow:
    return QueueRow(
        name=str(d["name"]),
        state=str(d["state"]),
        priority=int(d["priority"]),
        compute_environments=tuple(str(c) for c in d["computeEnvironments"]),
        counts={s: int(counts.get(s.value, 0)) for s in ALL_STATUSES},
    )


def ce_from_doc(d: dict[str, Any]) -> CeRow:
    vcpus, memory, gpus = d["vcpus"], d["memory"], d["gpus"]
    return CeRow(
        name=str(d["name"]),
        state=str(d["state"]),
        kind=str(d["kind"]),
        vcpus=(float(vcpus[0]), float(vcpus[1])),
        memory=(int(memory[0]), int(memory[1])),
        gpus=(int(gpus[0]), int(gpus[1])),
        note=d.get("note"),
    )


def instance_from_doc(d: dict[str, Any]) -> InstanceRow:
    """An instance as `ListInstances` (and `InstanceInfo.to_json`) spell it."""
    return InstanceRow(
        instance_id=str(d["instanceId"]),
        compute_environment=str(d["computeEnvironment"]),
        instance_type=str(d["instanceType"]),
        spot=d.get("lifecycle") == "spot",
        vcpus=(float(d.get("usedVcpus") or 0), float(d.get("vcpus") or 0)),
        memory=(int(d.get("usedMemory") or 0), int(d.get("memory") or 0)),
        gpus=(int(d.get("usedGpus") or 0), int(d.get("gpus") or 0)),
        host=d.get("host"),
        jobs=tuple((str(j["jobId"]), str(j["jobName"])) for j in d.get("jobs") or []),
        idle_since=_int(d.get("idleSince")),
    )
