"""`abatch tui` attached to a runtime in another process: `abatch serve` as a real subprocess
running real processes, the real app (Pilot) in this process attached through the runtime's
api.json as `abatch tui` finds it, and the command's refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from abatch.cli import main
from abatch.cli.tui import attach_client
from abatch.tui.app import AbatchApp
from abatch.tui.remote import RemoteBackend
from abatch.tui.screens.logs import LogsScreen
from abatch.tui.screens.modals import ConfirmScreen
from abatch.tui.widgets.jobtable import JobTable
from tests.tui.helpers import SIZE, screen_text, settle, until

from .support import Abatch, ready_url, write_config

Spawn = Callable[..., Abatch]


async def test_attached_to_abatch_serve_in_another_process(tmp_path: Path, spawn: Spawn) -> None:
    cfg = write_config(tmp_path, [])
    server = spawn("serve", str(cfg), "--port", "0")
    url = ready_url(server.wait_for(lambda line: line.startswith("ready:")))
    client = attach_client(None, tmp_path / "state")  # found through api.json
    assert client.base_url == url
    job = await anyio.to_thread.run_sync(
        lambda: client.submit_job(
            "talker",
            "high",
            "sh",
            containerOverrides={"command": ["sh", "-c", "echo hello from serve; sleep 60"]},
        )
    )
    backend = await RemoteBackend(client).connect()
    app = AbatchApp(backend)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one(JobTable)
            await until(pilot, lambda: bool(table.visible_rows()), timeout=20)
            await until(pilot, lambda: "RUNNING" in screen_text(app), timeout=20)
            await pilot.press("l")
            await until(pilot, lambda: isinstance(app.screen, LogsScreen))
            await until(pilot, lambda: "hello from serve" in screen_text(app), timeout=20)
            await pilot.press("escape", "t")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            await until(pilot, lambda: "FAILED" in screen_text(app), timeout=20)
    finally:
        backend.close()
    (detail,) = await anyio.to_thread.run_sync(client.describe_jobs, [job["jobId"]])
    assert detail["status"] == "FAILED" and detail["isTerminated"]


def test_attach_refusals(tmp_path: Path, spawn: Spawn, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["tui", *args])
        return code, capsys.readouterr().err

    code, err = run("--attach", "ftp://host/x")
    assert code == 2 and "--attach 'ftp://host/x': expected an http:// or https:// URL" in err
    code, err = run("--attach", "http://127.0.0.1:99999")
    assert code == 2 and "the port is not a number" in err
    empty = tmp_path / "empty"
    code, err = run("--attach", "--state-dir", str(empty))
    assert code == 2 and f"no abatch runtime is running on {empty}" in err
    code, err = run("--attach", "http://127.0.0.1:9", "--state-dir", str(empty))
    assert code == 2 and "cannot reach the abatch runtime at http://127.0.0.1:9" in err

    cfg = write_config(tmp_path, [])
    server = spawn("serve", str(cfg), "--port", "0")
    server.wait_for(lambda line: line.startswith("ready:"))
    code, err = run("--port", "0", "--state-dir", str(tmp_path / "state"))
    assert code == 2 and "--port: those set the API of a runtime this command starts" in err
