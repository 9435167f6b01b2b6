"""GPU devices: which specific device ids each running job holds, host by host.

Rules:
- a host is named by a key (`host_key`): `local` for this machine (process executor, and
  Docker on a local `unix://` socket or with no endpoint named), the Docker endpoint
  otherwise; compute environments on one host share its devices;
- a compute environment hands out the ids `ce_device_ids` gives it: the ones it declares
  (`gpu_devices`), else the ones detected on its host, else `0` … `gpus-1`; its jobs hold
  at most `gpus` of them at once (`ce_gpu_count`);
- a job needing N GPUs takes N of its compute environment's ids that no other holder has on
  that host, in the order the compute environment lists them; it holds them (by its job id)
  until it gives them back, all at once;
- taking again for a holder that already holds ids changes nothing (so a restart can put
  back the ids an adopted attempt had, with `hold`, before its capacity is counted);
- a multi-node job holds the ids of all its nodes; `split_ids` shares them out by node.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

LOCAL_HOST = "local"


def host_key(executor: str, docker_host: str | None) -> str:
    """The host a compute environment's attempts run on: `local` for this machine."""
    if executor == "process" or docker_host is None or docker_host.startswith("unix://"):
        return LOCAL_HOST
    return docker_host


def ce_device_ids(
    declared: Sequence[str] | None, count: int | None, detected: Sequence[str]
) -> tuple[str, ...]:
    """The ids a compute environment hands out: `declared` (gpu_devices) as given; else
    every id `detected` on its host; else `0` … `count-1`."""
    if declared:
        return tuple(declared)
    if detected:
        return tuple(detected)
    return tuple(str(i) for i in range(count or 0))


def ce_gpu_count(count: int | None, ids: Sequence[str]) -> int:
    """How many GPUs a compute environment's jobs may hold at once: its `gpus` setting
    (default: all its ids), never more than it has ids for."""
    return len(ids) if count is None else min(count, len(ids))


@dataclass(slots=True)
class DeviceLedger:
    """Who holds which device on which host."""

    _owners: dict[str, dict[str, str]] = field(default_factory=dict)  # host -> id -> holder
    _holdings: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def free(self, host: str, ids: Sequence[str]) -> list[str]:
        """Of `ids`, those nobody holds on `host`, in the order given."""
        owners = self._owners.get(host, {})
        return [i for i in ids if i not in owners]

    def held(self, holder: str) -> tuple[str, ...]:
        found = self._holdings.get(holder)
        return found[1] if found else ()

    def owners(self, host: str) -> dict[str, str]:
        """Device id -> holder, for the devices held on `host`."""
        return dict(self._owners.get(host, {}))

    def take(self, host: str, ids: Sequence[str], n: int, holder: str) -> tuple[str, ...] | None:
        """`n` free ids of `ids` for `holder`, or None (nothing taken) if fewer are free.
        A holder that already holds ids keeps them and gets them back."""
        if holder in self._holdings:
            return self._holdings[holder][1]
        if n <= 0:
            return ()
        free = self.free(host, ids)
        if len(free) < n:
            return None
        return self._record(host, tuple(free[:n]), holder)

    def hold(self, host: str, ids: Sequence[str], holder: str) -> tuple[str, ...]:
        """Take these exact ids for `holder` (an attempt found running after a restart),
        leaving out any another holder has. Returns what `holder` now holds."""
        if holder in self._holdings:
            return self._holdings[holder][1]
        owners = self._owners.get(host, {})
        mine = tuple(dict.fromkeys(i for i in ids if i not in owners))
        if not mine:
            return ()
        return self._record(host, mine, holder)

    def give(self, holder: str) -> tuple[str, ...]:
        """Give back everything `holder` holds; returns the ids given back."""
        found = self._holdings.pop(holder, None)
        if found is None:
            return ()
        host, ids = found
        owners = self._owners.get(host, {})
        for i in ids:
            if owners.get(i) == holder:
                del owners[i]
        if not owners:
            self._owners.pop(host, None)
        return ids

    def _record(self, host: str, ids: tuple[str, ...], holder: str) -> tuple[str, ...]:
        owners = self._owners.setdefault(host, {})
        for i in ids:
            owners[i] = holder
        self._holdings[holder] = (host, ids)
        return ids


@dataclass(slots=True, frozen=True)
class DeviceSlots:
    """One compute environment's share of the ledger: its host and the ids it hands out."""

    ledger: DeviceLedger
    host: str
    ids: tuple[str, ...]

    def free(self) -> int:
        return len(self.ledger.free(self.host, self.ids))

    def take(self, holder: str, n: int) -> tuple[str, ...] | None:
        return self.ledger.take(self.host, self.ids, n, holder)

    def hold(self, holder: str, ids: Sequence[str]) -> tuple[str, ...]:
        return self.ledger.hold(self.host, ids, holder)

    def give(self, holder: str) -> tuple[str, ...]:
        return self.ledger.give(holder)


def split_ids(ids: Sequence[str], counts: Sequence[int]) -> list[tuple[str, ...]]:
    """Share `ids` out in order: the first `counts[0]` to the first, and so on. A share
    that runs past the end gets what is left (never another's ids)."""
    out: list[tuple[str, ...]] = []
    start = 0
    for n in counts:
        out.append(tuple(ids[start : start + max(0, n)]))
        start += max(0, n)
    return out
