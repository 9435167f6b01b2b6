"""A runtime serving its API on an ephemeral loopback port, and real botocore clients for it.

botocore is blocking, so every call runs in a worker thread while the runtime and the
server keep running on the event loop.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import boto3
from botocore.config import Config

from abatch.api import serve_api
from abatch.executors.base import Executor
from abatch.runtime import Runtime
from tests.runtime.helpers import runtime

CREDS = {"aws_access_key_id": "AKIDTEST", "aws_secret_access_key": "secret"}
NO_RETRY = Config(retries={"max_attempts": 1, "mode": "standard"}, parameter_validation=True)


_SESSION: list[Any] = []  # one session for the whole run: its loader caches the models


def client(service: str, url: str, **kw: Any) -> Any:
    args: dict[str, Any] = {"endpoint_url": url, "region_name": "us-east-1", **CREDS}
    args.update(kw)
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0].client(service, config=NO_RETRY, **args)


class Api:
    """The URL and a batch and a logs client; `await api.batch(op, **params)`."""

    def __init__(self, rt: Runtime, url: str, **kw: Any) -> None:
        self.rt = rt
        self.url = url
        self.kw = kw
        self._batch: Any = None
        self._logs: Any = None

    async def clients(self) -> None:
        self._batch = await self.run(client, "batch", self.url, **self.kw)

    async def logs_client(self) -> Any:
        if self._logs is None:
            self._logs = await self.run(client, "logs", self.url, **self.kw)
        return self._logs

    async def logs(self, op: str, **params: Any) -> Any:
        return await self.run(getattr(await self.logs_client(), op), **params)

    @property
    def batch_client(self) -> Any:
        return self._batch

    async def batch(self, op: str, **params: Any) -> Any:
        return await self.run(getattr(self._batch, op), **params)

    async def run(self, fn: Any, *args: Any, **kw: Any) -> Any:
        """`fn(*args, **kw)` in a worker thread (botocore blocks)."""
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kw))


@asynccontextmanager
async def serving(rt: Runtime, *, auth: bool = False) -> AsyncIterator[str]:
    async with anyio.create_task_group() as tg:
        url = await tg.start(functools.partial(serve_api, rt, "127.0.0.1", 0, auth=auth))
        try:
            yield url
        finally:
            tg.cancel_scope.cancel()


@asynccontextmanager
async def api_runtime(
    tmp: Path, executor: Executor | None = None, *, auth: bool = False, **kw: Any
) -> AsyncIterator[Api]:
    async with runtime(tmp, executor, **kw) as rt, serving(rt, auth=auth) as url:
        api = Api(rt, url)
        await api.clients()
        yield api
