"""The API is reachable from the loopback interface only, unless authentication is on: a
config, a command line or a call that would serve it elsewhere without authentication is
refused with a message that says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from abatch.api import serve_api
from abatch.config import ConfigError, parse_config
from abatch.model.errors import ClientError
from tests.cli.support import run_abatch, write_config
from tests.runtime.helpers import runtime

NOT_LOOPBACK = ["0.0.0.0", "::", "10.1.2.3", "192.168.0.7", "batch.example.org"]
LOOPBACK = ["127.0.0.1", "127.8.9.10", "::1", "localhost"]
BASE = """
[[compute_environment]]
name = "local"
[compute_environment.compute_resources]
max_vcpus = 1
"""


@pytest.mark.parametrize("host", NOT_LOOPBACK)
def test_config_refuses_an_exposed_api_without_auth(host: str) -> None:
    text = f'[runtime]\napi_host = "{host}"\n' + BASE
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.toml")
    (problem,) = info.value.problems
    assert (problem.key, problem.line) == ("runtime.api_host", 2)
    assert "is not a loopback address" in problem.message
    assert "api_auth = true" in problem.message
    explicit = f'[runtime]\napi_auth = false\napi_host = "{host}"\n' + BASE
    with pytest.raises(ConfigError, match="not a loopback address"):
        parse_config(explicit, "c.toml")
    allowed = parse_config(f'[runtime]\napi_host = "{host}"\napi_auth = true\n' + BASE, "c.toml")
    assert allowed.runtime.api_host == host


@pytest.mark.parametrize("host", LOOPBACK)
def test_config_allows_loopback_without_auth(host: str) -> None:
    loaded = parse_config(f'[runtime]\napi_host = "{host}"\n' + BASE, "c.toml")
    assert (loaded.runtime.api_host, loaded.runtime.api_auth) == (host, False)


def test_cli_refuses_an_exposed_api_without_auth(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, [])
    for host in ("0.0.0.0", "::"):
        proc = run_abatch("serve", str(cfg), "--host", host, cwd=tmp_path, timeout=60)
        assert proc.returncode == 2, proc
        assert f"refusing to serve the API on {host}, which is not a loopback address" in (
            proc.stderr
        )
        assert "Traceback" not in proc.stderr
        assert not (tmp_path / "state" / "api.json").exists()
    exposed = tmp_path / "exposed.toml"
    exposed.write_text(cfg.read_text().replace("[runtime]\n", '[runtime]\napi_host = "0.0.0.0"\n'))
    for command in (["serve"], ["validate"], ["run"]):
        proc = run_abatch(*command, str(exposed), cwd=tmp_path, timeout=60)
        assert proc.returncode in (1, 2), proc  # validate: 1 (invalid), the others: 2
        assert "runtime.api_host: '0.0.0.0' is not a loopback address" in proc.stderr
        assert "Traceback" not in proc.stderr


async def test_serve_api_refuses_an_exposed_address_without_auth(tmp_path: Path) -> None:
    async with runtime(tmp_path) as rt:
        for host in NOT_LOOPBACK:
            with pytest.raises(ClientError, match="not a loopback address"):
                await serve_api(rt, host, 0)
        assert not (rt.state_dir / "api.json").exists()


def test_default_serve_listens_on_loopback(tmp_path: Path) -> None:
    """With no address given anywhere, `abatch serve` listens on 127.0.0.1 (api.json)."""
    from tests.cli.support import Abatch

    cfg = write_config(tmp_path, [])
    serve = Abatch(["serve", str(cfg)], tmp_path)
    try:
        serve.wait_for(lambda line: line.startswith("ready:"), timeout=60)
        url = json.loads((tmp_path / "state" / "api.json").read_text())["url"]
        assert url.startswith("http://127.0.0.1:"), url
    finally:
        serve.kill()
