"""Render what abatch shows into SVG files in this folder. Run from the repository root:

    .venv/bin/python screenshots/render.py

Today: `abatch run` on the built-in quickstart (progress lines, summary table) and
`abatch describe` of one of its jobs, run for real in a temporary directory; and the terminal
UI's views (jobs, queues, a job's detail, logs, instances: `tui-*.svg`) on a demo workload,
rendered headless at 140x40.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.text import Text

HERE = Path(__file__).resolve().parent


def abatch(*args: str, cwd: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "abatch", *args], cwd=cwd, capture_output=True, text=True
    )
    return proc.stdout + proc.stderr


def save(name: str, title: str, command: str, output: str) -> None:
    console = Console(record=True, width=118, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(Text(f"$ {command}", style="bold green"))
    console.print(Text(output.rstrip("\n")))
    console.save_svg(str(HERE / name), title=title)
    print(f"wrote screenshots/{name}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        save("quickstart-run.svg", "abatch run", "abatch run", abatch("run", cwd=cwd))
        listing = json.loads(abatch("jobs", "--json", cwd=cwd))["jobSummaryList"]
        job = next(j for j in listing if j["jobName"] == "high-echo")
        save("describe.svg", "abatch describe", f"abatch describe {job['jobId']}",
             abatch("describe", job["jobId"], cwd=cwd))
        save("logs.svg", "abatch logs", f"abatch logs {job['jobId']}",
             abatch("logs", job["jobId"], cwd=cwd))


async def tui_views() -> None:
    """The TUI on a demo workload: 2 vCPUs, jobs running, waiting, and an array job."""
    sys.path.insert(0, str(HERE.parent))
    from abatch.executors.fake import FakeExecutor, FakeOutcome
    from abatch.tui.app import AbatchApp
    from abatch.tui.local import LocalBackend
    from tests.runtime.helpers import jq, req, runtime
    from tests.runtime.test_instances import managed_ce
    from tests.tui.helpers import SIZE, settle

    log = b"epoch 1 loss 0.91\nepoch 2 loss 0.55\nepoch 3 loss 0.31\n"
    executor = FakeExecutor(lambda spec: FakeOutcome(duration=None, log=log))
    with tempfile.TemporaryDirectory() as tmp:
        async with runtime(Path(tmp), executor) as rt:
            # A Spot fleet beside the fixed 2-vCPU environment, for the instances view.
            spot = managed_ce("spot", "SPOT", ("c5",), 8, strategy="SPOT_CAPACITY_OPTIMIZED")
            await rt.put_compute_environment(spot)
            await rt.put_job_queue(jq("spot", 5, ["spot"]))
            await rt.submit_many([req(f"train-{i}") for i in range(3)])
            await rt.submit_many([req("sweep", arrayProperties={"size": 8}, queue="high")])
            await rt.submit_many([req(f"tune-{i}", queue="spot") for i in range(5)])
            app = AbatchApp(LocalBackend(rt))
            async with app.run_test(size=SIZE) as pilot:
                await pilot.pause(0.5)
                await settle(pilot)
                for name, keys in (
                    ("tui-jobs.svg", ()),
                    ("tui-detail.svg", ("end", "enter")),
                    ("tui-logs.svg", ("l",)),
                    ("tui-queues.svg", ("escape", "escape", "1")),
                    ("tui-instances.svg", ("3",)),
                ):
                    await pilot.press(*keys)
                    await pilot.pause(0.8)
                    app.save_screenshot(name, str(HERE))
                    print(f"wrote screenshots/{name}")


if __name__ == "__main__":
    import asyncio

    main()
    asyncio.run(tui_views())
