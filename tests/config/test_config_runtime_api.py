"""`[runtime]` api_host / api_port / api_auth: defaults, good values, and each bad value
reported with its key and line."""

from __future__ import annotations

import pytest
from config_samples import BASE, line_of, load, only

from abatch.api import DEFAULT_PORT
from abatch.config import RuntimeSettings
from abatch.config.settings import DEFAULT_API_PORT


def test_defaults_match_the_api() -> None:
    settings = RuntimeSettings()
    assert (settings.api_host, settings.api_port, settings.api_auth) == ("127.0.0.1", 8765, False)
    assert DEFAULT_API_PORT == DEFAULT_PORT  # config repeats the API's constant


@pytest.mark.parametrize("host", ["::1", "localhost", "0.0.0.0", "10.1.2.3", "batch.example.org"])
def test_good_api_settings(host: str) -> None:
    text = f'[runtime]\napi_host = "{host}"\napi_port = 0\napi_auth = true\n' + BASE
    runtime = load(text).runtime
    assert (runtime.api_host, runtime.api_port, runtime.api_auth) == (host, 0, True)


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("api_port = 70000", "api_port", "must be at most 65535, got 70000"),
        ("api_port = -1", "api_port", "must be at least 0, got -1"),
        ('api_port = "8080"', "api_port", "must be a whole number, not '8080'"),
        ('api_auth = "yes"', "api_auth", "must be true or false, not 'yes'"),
        ("api_host = 127", "api_host", "must be a string"),
        ('api_host = "bad host"', "api_host", "must be an IP address or a host name"),
        ('api_host = ""', "api_host", "must be an IP address or a host name"),
        ('api_host = "-x.org"', "api_host", "must be an IP address or a host name"),
    ],
)
def test_bad_api_settings(line: str, key: str, message: str) -> None:
    text = f"[runtime]\n{line}\n" + BASE
    problem = only(text)
    assert problem.key == f"runtime.{key}"
    assert problem.message.startswith(message), problem.message
    assert problem.line == line_of(text, line)


def test_misspelt_api_key() -> None:
    problem = only('[runtime]\napi_hots = "::1"\n' + BASE)
    assert (problem.key, problem.hint) == ("runtime.api_hots", "did you mean 'api_host'?")
