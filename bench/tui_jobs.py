"""Terminal UI benchmark (issue 9): how long the jobs view takes to open and to filter with
1,000, 10,000 and 100,000 jobs in the store (target: under 0.5 s each at 100,000). Prints
figures; asserts nothing. Run from the repository root:

    .venv/bin/python bench/tui_jobs.py [--sizes 1000,10000,100000] [--rounds 3] [--attach]

With --attach the app reads through the runtime's HTTP API on loopback (RemoteBackend, as an
attached `abatch tui` does) instead of in-process.

- open: from starting the app (headless, 140x40, `App.run_test`) to the first screen of rows
  loaded; includes Textual's own start-up, which is most of it at small sizes;
- filter: from pressing enter in the filter bar (a name prefix matching 10 jobs) to those rows
  shown (through Pilot, so it includes Pilot's own waits for the screen to settle); then a
  status filter (a tenth of the jobs match); `set_filter` is the table's own work for the
  name filter (count + first page + repaint request), without Pilot;
- end: a status filter then a jump to the last row (an offset page deep in the list);
- sort: from pressing `o` (order by name, which has no index: the list's keys are sorted once)
  to the first rows shown, all jobs listed; then a jump to the last row of the sorted list.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from abatch.client import ApiClient
from abatch.tui.app import AbatchApp
from abatch.tui.backend import PageFilter, TuiBackend
from abatch.tui.local import LocalBackend
from abatch.tui.remote import RemoteBackend
from abatch.tui.widgets.jobtable import JobTable
from tests.api.helpers import serving
from tests.runtime.helpers import runtime
from tests.tui.fill import fill
from tests.tui.helpers import SIZE, manual, settle


async def one(n: int, attach: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        async with runtime(Path(tmp), manual()) as rt:
            await fill(rt, n)
            if not attach:
                return await measure(n, LocalBackend(rt))
            async with serving(rt) as url:
                remote = RemoteBackend(ApiClient(url))
                try:
                    return await measure(n, remote)
                finally:
                    remote.close()


async def measure(n: int, backend: TuiBackend) -> dict[str, float]:
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    if isinstance(backend, RemoteBackend):
        await backend.connect()
    app = AbatchApp(backend)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        out["open"] = time.perf_counter() - t0
        assert table.total == n
        prefix = f"job-{n - 1:06d}"[:-1]
        await pilot.press("slash", *prefix)
        t0 = time.perf_counter()
        await pilot.press("enter")
        await settle(pilot)
        out["filter name"] = time.perf_counter() - t0
        assert table.total == 10, table.total
        box = app.screen.query_one("#filter")
        box.value = "s:failed"  # type: ignore[attr-defined]
        await pilot.press("slash")
        t0 = time.perf_counter()
        await pilot.press("enter")
        await settle(pilot)
        out["filter status"] = time.perf_counter() - t0
        assert table.total == n // 10
        t0 = time.perf_counter()
        await table.set_filter(PageFilter(name_prefix=prefix))
        out["set_filter"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await table.set_filter(PageFilter(status="FAILED"))
        await pilot.press("end")
        await settle(pilot)
        out["jump to end"] = time.perf_counter() - t0
        await table.set_filter(PageFilter())
        await settle(pilot)
        t0 = time.perf_counter()
        await pilot.press("o")
        await settle(pilot)
        out["sort name"] = time.perf_counter() - t0
        assert table.filter.sort == "name" and table.total == n
        t0 = time.perf_counter()
        await pilot.press("end")
        await settle(pilot)
        out["sorted end"] = time.perf_counter() - t0
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--attach", action="store_true", help="through the API (RemoteBackend)")
    args = ap.parse_args()
    print(
        f"{'jobs':>8}  {'open':>7}  {'filter name':>11}  {'filter status':>13}  "
        f"{'set_filter':>10}  {'end':>7}  {'sort name':>9}  {'sorted end':>10}"
    )
    for n in (int(s) for s in args.sizes.split(",")):
        runs = [await one(n, args.attach) for _ in range(args.rounds)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{n:>8,}  {med['open']:>6.3f}s  {med['filter name']:>10.3f}s  "
            f"{med['filter status']:>12.3f}s  {med['set_filter']:>9.3f}s  "
            f"{med['jump to end']:>6.3f}s  {med['sort name']:>8.3f}s  "
            f"{med['sorted end']:>9.3f}s",
            flush=True,
        )


if __name__ == "__main__":
    asyncio.run(main())
