"""`abatch serve [CONFIG]`: the runtime and its API in the foreground until Ctrl-C or SIGTERM.

CONFIG's resources are applied; its jobs are not submitted (that is `abatch run`). Jobs left
unfinished on the state directory are resumed. Then the API starts (on the options of
`service.api_options`) and the `ready:` line gives its URL; one plain line per job state
change follows. A signal stops the API, then the runtime, cleanly, and the command exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

import anyio

from .common import EXIT_OK, resolve_state_dir
from .run import describe_changes
from .service import READY, ApiOptions, StatePrinter, api_options, api_text, start_api
from .signals import Stopper, stop_mode_for, stopping_text

if TYPE_CHECKING:
    from abatch.config import LoadedConfig, RuntimeSettings


def cmd_serve(args: argparse.Namespace) -> int:
    from abatch.config import RuntimeSettings

    from .common import load_config_file

    config = load_config_file(args.config) if args.config else None
    state_dir = resolve_state_dir(args.state_dir, config.runtime.state_dir if config else None)
    base = config.runtime if config is not None else RuntimeSettings()
    settings = base.model_copy(update={"state_dir": state_dir})
    api = api_options(args, settings)
    return anyio.run(serve, config, settings, api, StatePrinter(sys.stdout), args.drain)


async def serve(
    config: LoadedConfig | None,
    settings: RuntimeSettings,
    api: ApiOptions,
    printer: StatePrinter,
    drain: bool = False,
) -> int:
    from abatch.runtime import open_runtime

    async with anyio.create_task_group() as tg:
        stopper = Stopper(tg)
        await tg.start(stopper.watch)
        try:
            async with open_runtime(settings) as rt:
                rt.stop_mode = stop_mode_for(drain)
                stopper.runtime = rt
                rt.bus.subscribe(printer.on_change)
                if config is not None:
                    report = await rt.apply(config)
                    printer.say(
                        f"{describe_changes(report.changes)} (from {config.path}; its "
                        "jobs are not submitted: use `abatch run` for that)"
                    )
                    if config.schedules:
                        states = rt.start_schedules(config.schedules)
                        enabled = sum(1 for s in states if s.enabled)
                        printer.say(f"schedules: {enabled} of {len(states)} enabled")
                for line in rt.host_warnings():
                    printer.say(f"warning: {line}")
                async with anyio.create_task_group() as api_tg:
                    url = await start_api(api_tg, rt, api)
                    tg.start_soon(printer.run)
                    printer.say(
                        f"{READY}: runtime pid {os.getpid()} on state directory "
                        f"{settings.state_dir}; {api_text(url, api, rt)}; {len(rt.jobs)} "
                        "unfinished job(s); Ctrl-C or SIGTERM stops it"
                    )
                    await stopper.requested.wait()
                    api_tg.cancel_scope.cancel()
                printer.flush()
                printer.say(stopping_text(rt, stopper.signal_name, settings.kill_grace_seconds))
            printer.flush()
            printer.say(f"stopped; state directory {settings.state_dir} released")
        finally:
            tg.cancel_scope.cancel()
    return EXIT_OK
