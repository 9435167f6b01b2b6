"""`abatch tui [CONFIG]`: the runtime and the terminal UI in one process, on one event loop;
or, when a runtime already serves the state directory (or with --attach), the terminal UI
alone, attached to that runtime over its API."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio

from .common import CliError, load_config_file, resolve_state_dir

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from abatch.client import ApiClient
    from abatch.runtime import Runtime


def cmd_tui(args: argparse.Namespace) -> int:
    from abatch.client import find_runtime
    from abatch.config import RuntimeSettings

    config = load_config_file(args.config) if args.config else None
    state_dir = resolve_state_dir(args.state_dir, config.runtime.state_dir if config else None)
    if args.attach is not None or find_runtime(state_dir) is not None:
        return _attach(args, state_dir)
    from abatch.tui import run_tui

    from .service import api_options, start_api

    base = config.runtime if config is not None else RuntimeSettings()
    settings = base.model_copy(update={"state_dir": state_dir})
    api = api_options(args, settings)

    async def serve(rt: Runtime, tg: TaskGroup) -> None:
        await start_api(tg, rt, api)

    async def main() -> int:
        return await run_tui(settings, config, on_runtime=serve)

    return anyio.run(main)


def _attach(args: argparse.Namespace, state_dir: Path) -> int:
    from abatch.tui import attach_tui

    client = attach_client(args.attach or None, state_dir)
    served = [f"--{k}" for k in ("host", "port", "auth") if getattr(args, k) is not None]
    if served:
        raise CliError(
            f"{', '.join(served)}: those set the API of a runtime this command starts; "
            f"attaching to the runtime at {client.base_url} starts none"
        )
    if args.config:
        print(
            f"abatch tui: attached to the runtime at {client.base_url}; {args.config} is not "
            "applied (the runtime serving the state directory owns its resources)",
            file=sys.stderr,
        )

    async def main() -> int:
        return await attach_tui(client)

    return anyio.run(main)


def attach_client(url: str | None, state_dir: Path) -> ApiClient:
    """A client of the runtime at `url`, signing with the state directory's key if it has
    one; without `url`, of the runtime serving `state_dir` (CliError when none does)."""
    from abatch.client import ApiClient
    from abatch.client.sigv4 import load_credentials

    from .connect import connect

    if url is None:
        return connect(state_dir)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"--attach {url!r}: expected an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise CliError(f"--attach {url!r}: the port is not a number from 0 to 65535") from None
    return ApiClient(url, load_credentials(state_dir) if state_dir.is_dir() else None)
