"""Pure renderers of the API's resource shapes (AWS JSON in, text lines out): the tables of
`abatch queues`, `abatch ce` and `abatch definitions`.

They take the dictionaries DescribeJobQueues, DescribeComputeEnvironments and
DescribeJobDefinitions answer with, tolerate a missing member (shown as "-"), and never
print. Local compute environment settings arrive as `abatch:` tags, as the API shows them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .tables import REASON_WIDTH, render_table

COMMAND_WIDTH = 60
IMAGE_WIDTH = 40
# Statuses as the queue table groups them: (header, statuses counted in it).
QUEUE_COUNTS = (
    ("PENDING", ("SUBMITTED", "PENDING")),
    ("RUNNABLE", ("RUNNABLE",)),
    ("RUNNING", ("STARTING", "RUNNING")),
    ("SUCCEEDED", ("SUCCEEDED",)),
    ("FAILED", ("FAILED",)),
)


def arn_name(arn: object) -> str:
    """`.../compute-environment/local` -> `local`; a plain name stays as it is."""
    text = str(arn)
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def queues_lines(
    queues: Sequence[Mapping[str, Any]], counts: Mapping[str, Mapping[str, int]]
) -> list[str]:
    """Job queues (highest priority first, as the scheduler tries them) with their jobs per
    status; `counts` maps a queue name to {status: count}."""
    ordered = sorted(queues, key=lambda q: (-int(q.get("priority") or 0), q.get("jobQueueName")))
    rows = []
    for q in ordered:
        name = q.get("jobQueueName")
        ces = sorted(q.get("computeEnvironmentOrder") or [], key=lambda e: e.get("order", 0))
        per_status = counts.get(str(name), {})
        rows.append(
            (
                name,
                q.get("state"),
                _status(q),
                q.get("priority"),
                ", ".join(arn_name(e.get("computeEnvironment")) for e in ces) or "-",
                *(sum(per_status.get(s, 0) for s in group) for _, group in QUEUE_COUNTS),
                arn_name(q["schedulingPolicyArn"]) if q.get("schedulingPolicyArn") else "FIFO",
            )
        )
    headers = (
        "QUEUE",
        "STATE",
        "STATUS",
        "PRIORITY",
        "COMPUTE ENVIRONMENTS",
        *(h for h, _ in QUEUE_COUNTS),
        "SCHEDULING",
    )
    return render_table(headers, rows, {2: REASON_WIDTH})


def ces_lines(ces: Sequence[Mapping[str, Any]]) -> list[str]:
    """Compute environments with their capacity and local settings."""
    rows = []
    for ce in sorted(ces, key=lambda c: str(c.get("computeEnvironmentName"))):
        resources: Mapping[str, Any] = ce.get("computeResources") or {}
        tags: Mapping[str, str] = ce.get("tags") or {}
        if ce.get("type") == "UNMANAGED":
            vcpus = ce.get("unmanagedvCpus")
        else:
            vcpus = resources.get("maxvCpus")
        memory = tags.get("abatch:memory")
        rows.append(
            (
                ce.get("computeEnvironmentName"),
                ce.get("type"),
                resources.get("type") or "-",
                ce.get("state"),
                _status(ce),
                tags.get("abatch:executor", "process"),
                vcpus,
                f"{memory} MiB" if memory else "host",
                _gpus(tags),
            )
        )
    headers = (
        "COMPUTE ENV",
        "TYPE",
        "PLATFORM",
        "STATE",
        "STATUS",
        "EXECUTOR",
        "MAX VCPUS",
        "MEMORY",
        "GPUS",
    )
    return render_table(headers, rows, {4: REASON_WIDTH})


def instances_lines(instances: Sequence[Mapping[str, Any]]) -> list[str]:
    """Instances (ListInstances, a local operation) with what is in use and their jobs."""
    rows = []
    for i in instances:
        jobs = [_job_label(j) for j in i.get("jobs") or []]
        gpus = f"{i.get('usedGpus', 0)}/{i.get('gpus', 0)}" if i.get("gpus") else "-"
        rows.append(
            (
                i.get("instanceId"),
                i.get("computeEnvironment"),
                i.get("host") or i.get("instanceType"),
                i.get("lifecycle"),
                f"{_num(i.get('usedVcpus'))}/{_num(i.get('vcpus'))}",
                f"{i.get('usedMemory', 0)}/{i.get('memory', 0)}",
                gpus,
                i.get("hostKey"),
                ", ".join(jobs) if jobs else "(idle)",
            )
        )
    headers = (
        "INSTANCE",
        "COMPUTE ENV",
        "TYPE/HOST",
        "LIFECYCLE",
        "VCPUS",
        "MEMORY MIB",
        "GPUS",
        "ON",
        "JOBS",
    )
    return render_table(headers, rows, {8: REASON_WIDTH})


def _job_label(job: Mapping[str, Any]) -> str:
    """A job's name; an array child's or node's with its index (`name:3`, `name#1`)."""
    job_id, name = str(job.get("jobId")), str(job.get("jobName") or job.get("jobId"))
    for sep in (":", "#"):
        if sep in job_id:
            return f"{name}{sep}{job_id.rpartition(sep)[2]}"
    return name


def _num(value: object) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else "-"


def definitions_lines(definitions: Sequence[Mapping[str, Any]]) -> list[str]:
    """Job definition revisions by name, then revision."""
    rows = []
    ordered = sorted(
        definitions, key=lambda d: (str(d.get("jobDefinitionName")), int(d.get("revision") or 0))
    )
    for d in ordered:
        container: Mapping[str, Any] = d.get("containerProperties") or {}
        if not container and d.get("nodeProperties"):
            ranges = d["nodeProperties"].get("nodeRangeProperties") or [{}]
            container = ranges[0].get("container") or {}
        needs = requirements(container)
        command = container.get("command")
        rows.append(
            (
                d.get("jobDefinitionName"),
                d.get("revision"),
                d.get("status"),
                d.get("type"),
                container.get("image"),
                needs.get("VCPU", "-"),
                needs.get("MEMORY", "-"),
                needs.get("GPU", "-"),
                " ".join(str(c) for c in command) if command else "-",
            )
        )
    headers = ("DEFINITION", "REVISION", "STATUS", "TYPE", "IMAGE", "VCPUS", "MEMORY", "GPUS")
    return render_table((*headers, "COMMAND"), rows, {0: 40, 4: IMAGE_WIDTH, 8: COMMAND_WIDTH})


def requirements(container: Mapping[str, Any]) -> dict[str, str]:
    """VCPU / MEMORY / GPU from resourceRequirements, else the older vcpus / memory fields."""
    out: dict[str, str] = {}
    if container.get("vcpus") is not None:
        out["VCPU"] = str(container["vcpus"])
    if container.get("memory") is not None:
        out["MEMORY"] = str(container["memory"])
    for item in container.get("resourceRequirements") or []:
        if isinstance(item, Mapping) and "type" in item:
            out[str(item["type"])] = str(item.get("value"))
    return out


def _status(resource: Mapping[str, Any]) -> str:
    """VALID, or the status with its reason when it is anything else."""
    status = str(resource.get("status") or "-")
    reason = resource.get("statusReason")
    if status in ("VALID", "-") or not reason:
        return status
    return f"{status}: {reason}"


def _gpus(tags: Mapping[str, str]) -> str:
    """The GPUS column: the `gpus` setting, else how many `gpu_devices` it lists, else
    `host` (every GPU nvidia-smi finds on its host)."""
    if "abatch:gpus" in tags:
        return tags["abatch:gpus"]
    devices = tags.get("abatch:gpu-devices")
    if devices:
        return f"{len(devices.split(','))} ({devices})"
    return "host"
