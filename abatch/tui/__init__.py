"""The terminal UI (Textual). What `abatch tui [CONFIG]` calls: `run_tui` starts the runtime
in this process and runs the app on the same event loop (a `LocalBackend`); `attach_tui`
runs the app against a runtime in another process through its API (a `RemoteBackend`), as
when a runtime already owns the state directory. The screens do not know which they have."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from abatch.client import ApiClient
    from abatch.config import LoadedConfig, RuntimeSettings
    from abatch.runtime import Runtime

OnRuntime = Callable[["Runtime", "TaskGroup"], Awaitable[None]]


async def run_tui(
    settings: RuntimeSettings,
    config: LoadedConfig | None,
    *,
    on_runtime: OnRuntime | None = None,
) -> int:
    """Run the runtime and the UI until the user quits; returns the exit status (0).

    `on_runtime(rt, tg)` runs once the runtime is up, with a task group that ends before
    the runtime stops: the CLI starts the API there (this package may not import it)."""
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


async def attach_tui(client: ApiClient) -> int:
    """Run the UI against the runtime `client` talks to until the user quits; returns the exit
    status (0). Raises the client's error (ApiConnectionError, or the runtime's refusal) when
    that runtime does not answer, before the UI starts."""
    from .app import AbatchApp
    from .remote import RemoteBackend

    backend = await RemoteBackend(client).connect()
    app = AbatchApp(backend)
    try:
        await app.run_async()
    finally:
        backend.close()
    return app.return_code or 0


__all__ = ["attach_tui", "run_tui"]
