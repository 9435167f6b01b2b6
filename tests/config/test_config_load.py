"""Valid configs: what a LoadedConfig holds, job order, paths, the quickstart."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_samples import BASE, jobs, line_of, load

from abatch.config import (
    LoadedConfig,
    RuntimeSettings,
    embedded_quickstart_path,
    load_config,
    parse_config,
)
from abatch.model.enums import ExecutorKind

ROOT = Path(__file__).resolve().parents[2]

FULL = """\
[runtime]
state_dir = "state"
kill_grace_seconds = 5.0
strict = false
log_tail_lines = 40

[[compute_environment]]
name = "local"
type = "MANAGED"
state = "ENABLED"
executor = "docker"
memory = 4096
gpus = 1
gpu_devices = ["2", "GPU-5d2e"]
[compute_environment.compute_resources]
type = "EC2"
max_vcpus = 4
min_vcpus = 0

[[job_queue]]
name = "high"
priority = 10
state = "ENABLED"
compute_environment_order = [{ order = 1, compute_environment = "local" }]

[[job_definition]]
name = "sleeper"
type = "container"
parameters = { seconds = "1" }
[job_definition.container_properties]
image = "busybox"
command = ["sleep", "Ref::seconds"]
environment = [{ name = "GREETING", value = "hi" }]
resource_requirements = [{ type = "VCPU", value = "1" }, { type = "MEMORY", value = "128" }]

[[job]]
name = "c"
job_queue = "high"
job_definition = "sleeper"

[[job]]
name = "a"
job_queue = "high"
job_definition = "sleeper:1"
parameters = { seconds = "2" }
container_overrides = { command = ["echo", "x"] }
retry_strategy = { attempts = 2 }
timeout = { attempt_duration_seconds = 60 }
tags = { team = "x" }
array_size = 4
depends_on = ["b", { job = "c", type = "N_TO_N" }, { type = "SEQUENTIAL" }]
scheduling_priority_override = 5

[[job]]
name = "b"
job_queue = "high"
job_definition = "sleeper"
"""


def test_full_example(tmp_path: Path) -> None:
    text = FULL.replace('name = "c"\n', 'name = "c"\narray_size = 4\n')
    config = parse_config(text, tmp_path / "abatch.toml")
    assert config.path == tmp_path / "abatch.toml"
    assert config.runtime == RuntimeSettings(
        state_dir=tmp_path / "state", kill_grace_seconds=5.0, strict=False, log_tail_lines=40
    )
    (ce,) = config.compute_environments
    assert (ce.compute_environment_name, ce.executor, ce.memory, ce.gpus) == (
        "local",
        ExecutorKind.DOCKER,
        4096,
        1,
    )
    assert ce.gpu_devices == ["2", "GPU-5d2e"]
    assert config.job_queues[0].ce_names() == ["local"]
    assert config.job_definitions[0].revision is None
    a = config.jobs[1]
    request = a.request
    assert (request.job_name, request.job_queue, request.job_definition) == (
        "a",
        "high",
        "sleeper:1",
    )
    assert request.depends_on is None
    assert request.array_properties is not None and request.array_properties.size == 4
    assert request.container_overrides is not None
    assert request.container_overrides.command == ["echo", "x"]
    assert request.tags == {"team": "x"}
    assert a.depends_on == [("b", None), ("c", "N_TO_N"), (None, "SEQUENTIAL")]
    assert a.line == line_of(text, "[[job]]", nth=2)
    assert [j.request.job_name for j in config.job_order()] == ["c", "b", "a"]


def test_job_order_is_stable_and_puts_dependencies_first() -> None:
    text = jobs("a", "b", "c", "d", "e")
    text = text.replace('name = "a"\n', 'name = "a"\ndepends_on = ["e"]\n')
    text = text.replace('name = "c"\n', 'name = "c"\ndepends_on = ["a", "d"]\n')
    config = load(text)
    assert [j.request.job_name for j in config.jobs] == ["a", "b", "c", "d", "e"]
    assert [j.request.job_name for j in config.job_order()] == ["b", "d", "e", "a", "c"]


def test_defaults() -> None:
    config = load(BASE)
    assert config.runtime.state_dir == Path.cwd() / ".abatch"
    assert (config.runtime.kill_grace_seconds, config.runtime.log_tail_lines) == (30.0, 20)
    assert config.jobs == []


def test_state_dir_is_relative_to_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.toml").write_text('[runtime]\nstate_dir = "../st"\n' + BASE)
    monkeypatch.chdir(tmp_path)
    assert load_config("sub/c.toml").runtime.state_dir == tmp_path / "st"
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "h.toml").write_text('[runtime]\nstate_dir = "~/x"\n')
    assert load_config(tmp_path / "h.toml").runtime.state_dir == tmp_path / "x"


def test_an_empty_config_is_valid() -> None:
    config = load("")
    assert isinstance(config, LoadedConfig)
    assert config.compute_environments == [] and config.jobs == []


def test_quickstart_is_valid_and_embedded_byte_for_byte() -> None:
    shipped = ROOT / "configs" / "quickstart.toml"
    embedded = embedded_quickstart_path()
    assert embedded.read_bytes() == shipped.read_bytes()
    config = load_config(embedded, strict=True)
    assert [q.priority for q in config.job_queues] == [10, 1]
    assert config.compute_environments[0].max_vcpus == 2
    assert 10 <= len(config.jobs) <= 14
    assert config.runtime.state_dir == embedded.parent / ".abatch"
