"""`abatch tui [CONFIG]`: the runtime and the terminal UI in one process, on one event loop."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import anyio

from .common import CliError, load_config_file, resolve_state_dir

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from abatch.runtime import Runtime


def cmd_tui(args: argparse.Namespace) -> int:
    from abatch.client import find_runtime
    from abatch.config import RuntimeSettings
    from abatch.tui import run_tui

    config = load_config_file(args.config) if args.config else None
    state_dir = resolve_state_dir(args.state_dir, config.runtime.state_dir if config else None)
    base = config.runtime if config is not None else RuntimeSettings()
    settings = base.model_copy(update={"state_dir": state_dir})
    attach = find_runtime(state_dir)
    if attach is not None:
        raise CliError(
            f"a runtime already owns {state_dir} (its API is at {attach}); attaching the "
            "terminal UI to a running runtime is not supported yet: stop it, or use the "
            "CLI's client commands (abatch jobs, submit, cancel, …)"
        )
    from .service import api_options, start_api

    api = api_options(args, settings)

    async def serve(rt: Runtime, tg: TaskGroup) -> None:
        await start_api(tg, rt, api)

    async def main() -> int:
        return await run_tui(settings, config, on_runtime=serve)

    return anyio.run(main)
