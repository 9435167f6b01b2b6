"""Render what abatch shows into SVG files in this folder. Run from the repository root:

    .venv/bin/python screenshots/render.py

Today: `abatch run` on the built-in quickstart (progress lines, summary table) and
`abatch describe` of one of its jobs, run for real in a temporary directory. The terminal
UI's views are added here when the TUI lands.
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


if __name__ == "__main__":
    main()
