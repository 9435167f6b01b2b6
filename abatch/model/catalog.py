"""The built-in instance type catalog: what a virtual EC2 instance of each type offers.

Pure data. Figures are AWS's published sizes (vCPUs, memory in MiB, GPUs) and us-east-1
Linux On-Demand prices in USD per hour, rounded; the prices only rank types against each
other (BEST_FIT takes the cheapest type that fits, SPOT_PRICE_CAPACITY_OPTIMIZED the cheapest
per vCPU), nothing is billed. Memory is the nominal size; AWS keeps a little for the ECS
agent, abatch does not.

A compute environment's `instanceTypes` entries are sizes (`c5.2xlarge`), families (`c5`: every
size of the family), `optimal` (the c5, m5 and r5 families, as AWS picks from current
general-purpose, compute- and memory-optimized families) or `default_x86_64` (the same).
GPU families (g4dn, p3) are only used when named. `default_arm64` and types not listed here
are refused with the list of what is known.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InstanceType:
    name: str
    vcpus: int
    memory: int  # MiB
    gpus: int
    price: float  # On-Demand USD per hour

    @property
    def family(self) -> str:
        return self.name.partition(".")[0]


def _family(family: str, sizes: list[tuple[str, int, int, int, float]]) -> list[InstanceType]:
    return [InstanceType(f"{family}.{s}", v, m * 1024, g, p) for s, v, m, g, p in sizes]


# (size, vCPUs, memory GiB, GPUs, $/h)
CATALOG: dict[str, InstanceType] = {
    t.name: t
    for t in [
        *_family(
            "c5",
            [
                ("large", 2, 4, 0, 0.085),
                ("xlarge", 4, 8, 0, 0.17),
                ("2xlarge", 8, 16, 0, 0.34),
                ("4xlarge", 16, 32, 0, 0.68),
                ("9xlarge", 36, 72, 0, 1.53),
                ("12xlarge", 48, 96, 0, 2.04),
                ("18xlarge", 72, 144, 0, 3.06),
                ("24xlarge", 96, 192, 0, 4.08),
            ],
        ),
        *_family(
            "m5",
            [
                ("large", 2, 8, 0, 0.096),
                ("xlarge", 4, 16, 0, 0.192),
                ("2xlarge", 8, 32, 0, 0.384),
                ("4xlarge", 16, 64, 0, 0.768),
                ("8xlarge", 32, 128, 0, 1.536),
                ("12xlarge", 48, 192, 0, 2.304),
                ("16xlarge", 64, 256, 0, 3.072),
                ("24xlarge", 96, 384, 0, 4.608),
            ],
        ),
        *_family(
            "r5",
            [
                ("large", 2, 16, 0, 0.126),
                ("xlarge", 4, 32, 0, 0.252),
                ("2xlarge", 8, 64, 0, 0.504),
                ("4xlarge", 16, 128, 0, 1.008),
                ("8xlarge", 32, 256, 0, 2.016),
                ("12xlarge", 48, 384, 0, 3.024),
                ("16xlarge", 64, 512, 0, 4.032),
                ("24xlarge", 96, 768, 0, 6.048),
            ],
        ),
        *_family(
            "g4dn",
            [
                ("xlarge", 4, 16, 1, 0.526),
                ("2xlarge", 8, 32, 1, 0.752),
                ("4xlarge", 16, 64, 1, 1.204),
                ("8xlarge", 32, 128, 1, 2.176),
                ("12xlarge", 48, 192, 4, 3.912),
                ("16xlarge", 64, 256, 1, 4.352),
            ],
        ),
        *_family(
            "p3",
            [
                ("2xlarge", 8, 61, 1, 3.06),
                ("8xlarge", 32, 244, 4, 12.24),
                ("16xlarge", 64, 488, 8, 24.48),
            ],
        ),
    ]
}
FAMILIES = frozenset(t.family for t in CATALOG.values())
OPTIMAL_FAMILIES = ("c5", "m5", "r5")
ALIASES = {"optimal": OPTIMAL_FAMILIES, "default_x86_64": OPTIMAL_FAMILIES}


def unknown_instance_type(entry: str) -> str | None:
    """Why `entry` is not a usable instanceTypes entry, or None if it is."""
    if entry in CATALOG or entry in FAMILIES or entry in ALIASES:
        return None
    known = ", ".join([*ALIASES, *sorted(FAMILIES)])
    return (
        f"instance type {entry!r} is not in abatch's catalog; use a family ({known}) or one "
        f"of its sizes (such as c5.2xlarge)"
    )


def expand_instance_types(entries: list[str]) -> tuple[InstanceType, ...]:
    """The catalog types that `entries` allow, each once, cheapest first (unknown entries
    are left out: the model refuses them before this runs)."""
    found: dict[str, InstanceType] = {}
    for entry in entries:
        families = ALIASES.get(entry) or ((entry,) if entry in FAMILIES else ())
        for t in CATALOG.values():
            if t.name == entry or t.family in families:
                found[t.name] = t
    return tuple(sorted(found.values(), key=lambda t: (t.price, t.vcpus, t.name)))
