"""Multi-node parallel job ranges (reference §4): `targetNodes` syntax and which range each
node of a job takes its container from.

- `a:b` is inclusive at both ends; `:n` is 0…n, `n:` is n…last, `:` is every node, and a
  single index `n` is n…n.
- The ranges together must cover 0…numNodes-1 and may nest: a node takes the narrowest range
  that holds it (the more specific one wins). Two ranges that overlap without one holding the
  other, or the same range given twice, are refused: nothing would say which one wins.

Pure functions; a problem is a ValueError whose message names the range.
"""

from __future__ import annotations

from collections.abc import Sequence


def _index(text: str, whole: str) -> int:
    if not text.isdigit():
        raise ValueError(
            f"targetNodes {whole!r} is not a range: use 'a:b', ':n', 'n:', ':' or one index"
        )
    return int(text)


def parse_target_nodes(text: str, num_nodes: int) -> tuple[int, int]:
    """The inclusive (first, last) node indexes `text` names in a job of `num_nodes` nodes."""
    s = text.strip()
    if ":" in s:
        lo_s, _, hi_s = s.partition(":")
        lo = _index(lo_s, text) if lo_s else 0
        hi = _index(hi_s, text) if hi_s else num_nodes - 1
    else:
        lo = hi = _index(s, text)
    if lo > hi:
        raise ValueError(f"targetNodes {text!r}: the first node is after the last")
    if hi >= num_nodes:
        raise ValueError(
            f"targetNodes {text!r} names node {hi}, but the job has {num_nodes} node(s) "
            f"(0-{num_nodes - 1})"
        )
    return lo, hi


def is_open_ended(text: str) -> bool:
    """True for `n:` and `:`, the ranges that grow with numNodes."""
    s = text.strip()
    return ":" in s and s.partition(":")[2] == ""


def lower_bound(text: str) -> int:
    s = text.strip()
    head = s.partition(":")[0] if ":" in s else s
    return int(head) if head.isdigit() else 0


def assign_nodes(targets: Sequence[str], num_nodes: int) -> list[int]:
    """For each node 0…num_nodes-1, the position in `targets` of the range it takes its
    settings from (the narrowest one holding it). Raises ValueError."""
    spans = [parse_target_nodes(t, num_nodes) for t in targets]
    for i, (a_lo, a_hi) in enumerate(spans):
        for j in range(i + 1, len(spans)):
            b_lo, b_hi = spans[j]
            if (a_lo, a_hi) == (b_lo, b_hi):
                raise ValueError(
                    f"targetNodes {targets[i]!r} and {targets[j]!r} name the same nodes"
                )
            overlap = a_lo <= b_hi and b_lo <= a_hi
            nested = (a_lo <= b_lo and b_hi <= a_hi) or (b_lo <= a_lo and a_hi <= b_hi)
            if overlap and not nested:
                raise ValueError(
                    f"targetNodes {targets[i]!r} and {targets[j]!r} overlap without one "
                    "holding the other"
                )
    out: list[int] = []
    for node in range(num_nodes):
        holding = [k for k, (lo, hi) in enumerate(spans) if lo <= node <= hi]
        if not holding:
            raise ValueError(
                f"no nodeRangeProperties range holds node {node}: the ranges must cover "
                f"nodes 0-{num_nodes - 1}"
            )
        out.append(min(holding, key=lambda k: spans[k][1] - spans[k][0]))
    return out


def check_num_nodes_override(targets: Sequence[str], main_node: int, num_nodes: int) -> str | None:
    """Why numNodes can't be overridden to `num_nodes` (AWS's rule: the definition has an
    open-ended range whose lower bound, like mainNode, is below the new count), or None."""
    open_ended = [t for t in targets if is_open_ended(t)]
    if not open_ended:
        return (
            "nodeOverrides.numNodes needs a job definition with an open-ended range "
            "('n:' or ':') in nodeRangeProperties"
        )
    for t in open_ended:
        if lower_bound(t) >= num_nodes:
            return (
                f"nodeOverrides.numNodes {num_nodes}: the open-ended range {t!r} starts at or "
                "after it"
            )
    if main_node >= num_nodes:
        return f"nodeOverrides.numNodes {num_nodes}: mainNode {main_node} would not exist"
    return None
