"""`abatch queues`, `abatch ce`, `abatch definitions`: the runtime's resources, as tables for
people or as the API's JSON answers (`--json`) for scripts.

Resources come from the running runtime's API (Describe*), the authority on them. The job
counts per queue come from the state directory's store, read-only (one GROUP BY per queue),
since the API has no cheap way to count: ListJobs would page through every finished job.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import anyio

from .common import EXIT_OK, resolve_state_dir
from .connect import connect
from .resource_tables import ces_lines, definitions_lines, instances_lines, queues_lines


def cmd_queues(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    queues = connect(state_dir).describe_job_queues()
    names = [str(q["jobQueueName"]) for q in queues]
    counts = anyio.run(job_counts, state_dir, names) if names else {}
    if args.json:
        for q in queues:
            q["jobCounts"] = counts.get(str(q["jobQueueName"]), {})
        print(json.dumps({"jobQueues": queues}, indent=2))
    elif not queues:
        print(f"no job queues in the runtime on {state_dir}")
    else:
        for line in queues_lines(queues, counts):
            print(line)
    return EXIT_OK


async def job_counts(state_dir: Path, queues: list[str]) -> dict[str, dict[str, int]]:
    """{queue: {status: count}} with every status, from the store read-only."""
    from abatch.model.enums import JobStatus
    from abatch.store.sqlite import SqliteStore

    store = await SqliteStore.open(state_dir, read_only=True)
    try:
        out: dict[str, dict[str, int]] = {}
        for name in queues:
            found = await store.count_by_status(name)
            out[name] = {s.value: found.get(s, 0) for s in JobStatus}
        return out
    finally:
        await store.close()


def cmd_ce(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    ces = connect(state_dir).describe_compute_environments()
    if args.json:
        print(json.dumps({"computeEnvironments": ces}, indent=2))
    elif not ces:
        print(f"no compute environments in the runtime on {state_dir}")
    else:
        for line in ces_lines(ces):
            print(line)
    return EXIT_OK


def cmd_instances(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    instances = connect(state_dir).list_instances(args.ce)
    if args.json:
        print(json.dumps({"instances": instances}, indent=2))
    elif not instances:
        where = f" in compute environment {args.ce!r}" if args.ce else ""
        print(f"no instances{where} in the runtime on {state_dir}")
    else:
        for line in instances_lines(instances):
            print(line)
    return EXIT_OK


def cmd_reclaim(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    instance = connect(state_dir).reclaim_instance(args.instance_id)
    if args.json:
        print(json.dumps({"instance": instance}, indent=2))
    else:
        jobs = [str(j.get("jobId")) for j in instance.get("jobs") or []]
        ce = instance.get("computeEnvironment")
        print(
            f"reclaimed {args.instance_id} "
            f"({instance.get('instanceType')}, compute environment {ce})"
        )
        for job_id in jobs:
            print(f"  job {job_id}: Host EC2 (instance {args.instance_id}) terminated.")
        if not jobs:
            print("  no job ran on it")
    return EXIT_OK


def cmd_definitions(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    params: dict[str, Any] = {} if args.all else {"status": "ACTIVE"}
    if args.name:
        params["jobDefinitionName"] = args.name
    definitions = connect(state_dir).describe_job_definitions(**params)
    if args.json:
        print(json.dumps({"jobDefinitions": definitions}, indent=2))
    elif not definitions:
        which = f" named {args.name!r}" if args.name else ""
        active = "" if args.all else " active"
        print(f"no{active} job definitions{which} in the runtime on {state_dir}")
    else:
        for line in definitions_lines(definitions):
            print(line)
    return EXIT_OK
