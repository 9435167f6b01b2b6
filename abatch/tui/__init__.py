"""The terminal UI (Textual). `run_tui` is what `abatch tui [CONFIG]` calls: it starts the
runtime in this process and runs the app on the same event loop or, when a runtime already
owns the state directory, attaches to that runtime over its API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from abatch.config import LoadedConfig, RuntimeSettings
    from abatch.runtime import Runtime

OnRuntime = Callable[["Runtime", "TaskGroup"], Awaitable[None]]


async def run_tui(
    settings: RuntimeSettings,
    config: LoadedConfig | None,
    *,
    attach_url: str | None = None,
    on_runtime: OnRuntime | None = None,
) -> int:
    """Run the UI until the user quits; returns the exit status (0).

    With `attach_url` (the URL of a runtime that already serves the state directory, from
    `abatch.client.find_runtime`), the UI would talk to that runtime; attaching is not
    implemented yet, so this raises NotImplementedError for the caller to report.
    `on_runtime(rt, tg)` runs once the runtime is up, with a task group that ends before
    the runtime stops: the CLI starts the API there (this package may not import it)."""
    if attach_url is not None:
        raise NotImplementedError(
            f"a runtime already serves {settings.state_dir} at {attach_url}; attaching the "
            "terminal UI to it is not implemented yet"
        )
    from abatch.runtime import open_runtime

    from .app import AbatchApp
    from .local import LocalBackend

    async with open_runtime(settings) as rt, anyio.create_task_group() as tg:
        if config is not None:
            await rt.apply(config)
            if config.schedules:
                rt.start_schedules(config.schedules)
        if on_runtime is not None:
            await on_runtime(rt, tg)
        app = AbatchApp(LocalBackend(rt))
        await app.run_async()
        tg.cancel_scope.cancel()
    return app.return_code or 0


__all__ = ["run_tui"]
