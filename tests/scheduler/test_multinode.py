"""Multi-node jobs in the functional core, as tables: targetNodes ranges, which range a node
takes, numNodes overrides, per-node containers, and placing the whole job at once."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord, NodeOverrides
from abatch.model.nodes import assign_nodes, check_num_nodes_override, parse_target_nodes
from abatch.model.resources import ComputeEnvironment, NodeProperties
from abatch.scheduler.nodes import multinode_refusal, node_environment, node_layout
from abatch.scheduler.placement import (
    REASON_MAX_CPU,
    REASON_NO_MULTINODE,
    CapacityPool,
    QueueView,
    plan,
)


@pytest.mark.parametrize(
    ("text", "num", "span"),
    [
        ("0:3", 5, (0, 3)),
        (":2", 5, (0, 2)),
        ("2:", 5, (2, 4)),
        (":", 5, (0, 4)),
        ("3", 5, (3, 3)),
        ("0:0", 1, (0, 0)),
        (" 1:2 ", 3, (1, 2)),
    ],
)
def test_target_nodes_syntax(text: str, num: int, span: tuple[int, int]) -> None:
    assert parse_target_nodes(text, num) == span


@pytest.mark.parametrize(
    ("text", "num", "problem"),
    [
        ("3:1", 5, "after the last"),
        ("0:5", 5, "has 5 node"),
        ("5", 5, "has 5 node"),
        ("a:b", 5, "not a range"),
        ("-1:2", 5, "not a range"),
        ("1:2:3", 5, "not a range"),
        ("", 5, "not a range"),
    ],
)
def test_target_nodes_refused(text: str, num: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_target_nodes(text, num)


@pytest.mark.parametrize(
    ("targets", "num", "groups"),
    [
        (["0:3"], 4, [0, 0, 0, 0]),
        (["0", "1:"], 3, [0, 1, 1]),
        (["0:10", "4:5"], 11, [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]),  # nested: narrower wins
        (["4:5", "0:10"], 11, [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),  # order does not matter
        ([":", "0", "2:3", "3"], 5, [1, 0, 2, 3, 0]),  # three levels of nesting
        ([":1", "2:"], 4, [0, 0, 1, 1]),
    ],
)
def test_each_node_takes_the_narrowest_range(
    targets: list[str], num: int, groups: list[int]
) -> None:
    assert assign_nodes(targets, num) == groups


@pytest.mark.parametrize(
    ("targets", "num", "problem"),
    [
        (["0:1"], 3, "holds node 2"),
        (["1:"], 3, "holds node 0"),
        (["0:2", "2:4"], 5, "overlap without one holding"),
        (["0:2", "0:2"], 3, "same nodes"),
        (["0:2", ":2"], 3, "same nodes"),
    ],
)
def test_ranges_refused(targets: list[str], num: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        assign_nodes(targets, num)


@pytest.mark.parametrize(
    ("targets", "main", "new", "problem"),
    [
        (["0", "1:"], 0, 8, None),
        ([":"], 0, 2, None),
        (["0", "1:"], 0, 1, "starts at or after"),
        (["0:3"], 0, 8, "open-ended"),
        (["0:1", "2:"], 3, 3, "mainNode 3"),
        (["0:1", "2:"], 0, 2, "starts at or after"),
    ],
)
def test_num_nodes_override_rule(
    targets: list[str], main: int, new: int, problem: str | None
) -> None:
    got = check_num_nodes_override(targets, main, new)
    assert (got is None) if problem is None else (got is not None and problem in got)


def props(num: int, main: int, ranges: list[tuple[str, list[str]]]) -> NodeProperties:
    return NodeProperties.model_validate(
        {
            "numNodes": num,
            "mainNode": main,
            "nodeRangeProperties": [
                {"targetNodes": t, "container": {"image": "busybox", "command": cmd}}
                for t, cmd in ranges
            ],
        }
    )


def test_node_properties_validated_when_registered() -> None:
    with pytest.raises(ValueError, match="mainNode 3 must be less than numNodes 3"):
        props(3, 3, [(":", ["x"])])
    with pytest.raises(ValueError, match="holds node 2"):
        props(3, 0, [("0:1", ["x"])])
    with pytest.raises(ValueError, match="needs a container"):
        NodeProperties.model_validate(
            {"numNodes": 1, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0"}]}
        )
    with pytest.raises(ValueError, match="at most 5"):
        props(6, 0, [(str(i), ["x"]) for i in range(6)])


def overrides(doc: dict[str, Any]) -> NodeOverrides:
    return NodeOverrides.model_validate(doc)


def test_layout_commands_per_range_and_overrides() -> None:
    p = props(4, 0, [("0", ["main"]), ("1:", ["child"]), ("3", ["special"])])
    assert [c["command"] for c in node_layout(p, None).containers] == [
        ["main"],
        ["child"],
        ["child"],
        ["special"],
    ]
    more = overrides(
        {
            "numNodes": 6,
            "nodePropertyOverrides": [
                {"targetNodes": "1:", "containerOverrides": {"command": ["wide"]}},
                {"targetNodes": "4:4", "containerOverrides": {"command": ["narrow"]}},
                {
                    "targetNodes": "0",
                    "containerOverrides": {"environment": [{"name": "ROLE", "value": "m"}]},
                },
            ],
        }
    )
    layout = node_layout(p, more)
    assert layout.num_nodes == 6
    assert [c["command"] for c in layout.containers] == [
        ["main"],
        ["wide"],
        ["wide"],
        ["wide"],
        ["narrow"],
        ["wide"],
    ]
    assert layout.containers[0]["environment"] == [{"name": "ROLE", "value": "m"}]
    assert node_environment(2, layout) == {
        "AWS_BATCH_JOB_NODE_INDEX": "2",
        "AWS_BATCH_JOB_NUM_NODES": "6",
        "AWS_BATCH_JOB_MAIN_NODE_INDEX": "0",
    }
    with pytest.raises(ValueError, match="open-ended"):
        node_layout(props(2, 0, [("0", ["a"]), ("1", ["b"])]), overrides({"numNodes": 3}))
    with pytest.raises(ValueError, match="nodePropertyOverrides\\[0\\]"):
        node_layout(
            p,
            overrides(
                {"nodePropertyOverrides": [{"targetNodes": "0:9", "containerOverrides": {}}]}
            ),
        )


def test_layout_totals_are_the_sum_of_the_nodes() -> None:
    p = NodeProperties.model_validate(
        {
            "numNodes": 3,
            "mainNode": 0,
            "nodeRangeProperties": [
                {
                    "targetNodes": "0",
                    "container": {
                        "command": ["m"],
                        "resourceRequirements": [
                            {"type": "VCPU", "value": "2"},
                            {"type": "MEMORY", "value": "256"},
                        ],
                    },
                },
                {"targetNodes": "1:", "container": {"command": ["c"], "vcpus": 1, "memory": 64}},
            ],
        }
    )
    assert node_layout(p, None).totals() == (4.0, 384, 0)


@pytest.mark.parametrize(
    ("doc", "refused"),
    [
        ({"computeResources": {"type": "EC2", "maxvCpus": 4}}, None),
        ({"computeResources": {"type": "SPOT", "maxvCpus": 4}}, "SPOT"),
        ({"computeResources": {"type": "FARGATE", "maxvCpus": 4}}, "FARGATE"),
        ({"computeResources": {"type": "FARGATE_SPOT", "maxvCpus": 4}}, "FARGATE_SPOT"),
        ({"type": "UNMANAGED", "unmanagedvCpus": 4}, "UNMANAGED"),
    ],
)
def test_which_compute_environments_run_multinode_jobs(
    doc: dict[str, Any], refused: str | None
) -> None:
    ce = ComputeEnvironment.model_validate({"computeEnvironmentName": "c", **doc})
    why = multinode_refusal(ce)
    assert (why is None) if refused is None else (why is not None and refused in why)


# ---------------------------------------------------------------- placing the whole job


def job(jid: str, vcpus: float, multinode: bool = False) -> JobRecord:
    spec: dict[str, Any] = {"nodeProperties": {"numNodes": 3, "mainNode": 0}} if multinode else {}
    return JobRecord(
        job_id=jid,
        job_name=jid,
        job_queue="q",
        job_definition="d:1",
        status=JobStatus.RUNNABLE,
        created_at=0,
        seq=0,
        vcpus=vcpus,
        memory=100,
        gpus=0,
        spec=spec,
    )


def pool(name: str, vcpus: float, used: float = 0, multinode: bool = True) -> CapacityPool:
    return CapacityPool(name, True, vcpus, 10_000, 0, used_vcpus=used, multinode=multinode)


# (pools, the multi-node job's total vCPUs, where it goes or why it waits)
PLACEMENT_TABLE = [
    ([pool("a", 4)], 3, "a"),  # every node fits: placed whole
    ([pool("a", 4, used=2)], 3, "WAITING_FOR_CAPACITY"),  # 2 of 3 nodes would fit: none start
    ([pool("a", 4, used=2), pool("b", 8)], 3, "b"),  # the first CE with room for all nodes
    ([pool("a", 2), pool("b", 2)], 3, REASON_MAX_CPU),  # split across CEs never: blocked
    ([pool("spot", 8, multinode=False)], 3, REASON_NO_MULTINODE),
    ([pool("spot", 8, multinode=False), pool("ec2", 4)], 3, "ec2"),  # skips the SPOT one
    ([pool("spot", 8, multinode=False), pool("ec2", 4, used=2)], 3, "WAITING_FOR_CAPACITY"),
]


@pytest.mark.parametrize(("pools", "total", "expected"), PLACEMENT_TABLE)
def test_a_multinode_job_is_placed_whole(
    pools: list[CapacityPool], total: float, expected: str
) -> None:
    mnp = job("mnp", total, multinode=True)
    used = {p.name: p.used_vcpus for p in pools}
    decisions = plan(
        [QueueView("q", 1, [p.name for p in pools], deque([mnp]))], {p.name: p for p in pools}
    )
    if decisions.placements:
        (place,) = decisions.placements
        assert place.ce == expected
        target = next(p for p in pools if p.name == expected)
        assert target.used_vcpus == used[expected] + total  # all nodes' capacity at once
    else:
        (wait,) = decisions.waits
        assert wait.reason.startswith(expected), wait.reason
        assert all(p.used_vcpus == used[p.name] for p in pools)


def test_a_plain_job_still_uses_a_spot_pool() -> None:
    spot = pool("spot", 4, multinode=False)
    decisions = plan([QueueView("q", 1, ["spot"], deque([job("plain", 1)]))], {"spot": spot})
    assert [p.ce for p in decisions.placements] == ["spot"]
