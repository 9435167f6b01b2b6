"""Resolve a multi-node job definition plus SubmitJob's `nodeOverrides` into one effective
container per node (reference §4, §6).

- `numNodes` may be overridden only as AWS allows (`model.nodes.check_num_nodes_override`);
  open-ended ranges (`n:`, `:`) then stretch to the new count.
- Each node takes the container of the narrowest `nodeRangeProperties` range that holds it.
- `nodePropertyOverrides` apply their `containerOverrides` to every node their `targetNodes`
  hold, wider ranges first, so the more specific override wins where they disagree. The merge
  is SubmitJob's (command replaces, environment merges by name, resources per type).

Pure: a problem is a ValueError with a message fit for a ClientException.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from abatch.model.enums import CEType, ComputeResourceType
from abatch.model.job import NodeOverrides
from abatch.model.nodes import assign_nodes, check_num_nodes_override, parse_target_nodes
from abatch.model.resources import ComputeEnvironment, NodeProperties

from .resolve import merge_container, resources_of


@dataclass(slots=True, frozen=True)
class NodeLayout:
    num_nodes: int
    main_node: int
    containers: list[dict[str, Any]]  # effective container of node i

    def totals(self) -> tuple[float, int, int]:
        """(vCPUs, MiB, GPUs) of all nodes together: what the whole job holds while it runs."""
        vcpus, memory, gpus = 0.0, 0, 0
        for c in self.containers:
            v, m, g = resources_of(c)
            vcpus, memory, gpus = vcpus + v, memory + m, gpus + g
        return vcpus, memory, gpus


def node_layout(props: NodeProperties, overrides: NodeOverrides | None) -> NodeLayout:
    """The containers of every node. Raises ValueError."""
    targets = [r.target_nodes for r in props.node_range_properties]
    num_nodes = props.num_nodes
    if overrides is not None and overrides.num_nodes is not None:
        problem = check_num_nodes_override(targets, props.main_node, overrides.num_nodes)
        if problem is not None:
            raise ValueError(problem)
        num_nodes = overrides.num_nodes
    groups = assign_nodes(targets, num_nodes)
    bases = [
        r.container.to_aws() if r.container is not None else {} for r in props.node_range_properties
    ]
    containers = [dict(bases[g]) for g in groups]
    ranged: list[tuple[int, int, Any]] = []
    for i, npo in enumerate((overrides.node_property_overrides if overrides else None) or []):
        try:
            lo, hi = parse_target_nodes(npo.target_nodes, num_nodes)
        except ValueError as exc:
            raise ValueError(f"nodeOverrides.nodePropertyOverrides[{i}]: {exc}") from None
        ranged.append((lo, hi, npo.container_overrides))
    # Widest first: a narrower override applied later wins.
    for lo, hi, ov in sorted(ranged, key=lambda r: -(r[1] - r[0])):
        for node in range(lo, hi + 1):
            containers[node] = merge_container(containers[node], ov)
    for node, c in enumerate(containers):
        if not c.get("command"):
            raise ValueError(
                f"node {node} has no command (targetNodes "
                f"{targets[groups[node]]!r} gives none and no override does)"
            )
    return NodeLayout(num_nodes, props.main_node, containers)


def node_environment(index: int, layout: NodeLayout) -> dict[str, str]:
    """The AWS_BATCH_* variables every node gets (the main node's address is added when
    the children start, once it is known)."""
    return {
        "AWS_BATCH_JOB_NODE_INDEX": str(index),
        "AWS_BATCH_JOB_NUM_NODES": str(layout.num_nodes),
        "AWS_BATCH_JOB_MAIN_NODE_INDEX": str(layout.main_node),
    }


def multinode_refusal(ce: ComputeEnvironment) -> str | None:
    """Why a compute environment can't run multi-node parallel jobs (AWS: not on SPOT,
    FARGATE, FARGATE_SPOT or UNMANAGED ones), or None when it can."""
    name = ce.compute_environment_name
    if ce.type is CEType.UNMANAGED:
        return f"compute environment {name!r} is UNMANAGED"
    cr = ce.compute_resources
    if cr is not None and cr.type is not ComputeResourceType.EC2:
        return f"compute environment {name!r} is {cr.type.value}"
    return None
