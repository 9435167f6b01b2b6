"""Capacity settings in a config: instance types, Spot reclaim rate, unmanaged hosts; each
mistake with its key path."""

from __future__ import annotations

from config_samples import load, only, problems_of

QUEUE = """
[[job_queue]]
name = "q"
priority = 1
compute_environment_order = [{ order = 1, compute_environment = "ce" }]
"""


def unmanaged(hosts: str, executor: str = "process") -> str:
    return (
        f"""
[[compute_environment]]
name = "ce"
type = "UNMANAGED"
executor = "{executor}"
hosts = {hosts}
"""
        + QUEUE
    )


def managed(resources: str, extra: str = "") -> str:
    return (
        f"""
[[compute_environment]]
name = "ce"
{extra}
[compute_environment.compute_resources]
{resources}
"""
        + QUEUE
    )


def test_valid_fleets_and_hosts() -> None:
    cfg = load(
        managed(
            'type = "SPOT"\nmax_vcpus = 8\ninstance_types = ["optimal", "g4dn.xlarge"]\n'
            'allocation_strategy = "SPOT_CAPACITY_OPTIMIZED"',
            "spot_reclaim_rate = 2.5\ninstance_idle_seconds = 1",
        )
    )
    (ce,) = cfg.compute_environments
    assert ce.spot_reclaim_rate == 2.5 and ce.instance_idle_seconds == 1
    docker = unmanaged(
        '[{ name = "a", vcpus = 2, memory = 1024 }, '
        '{ name = "b", vcpus = 4, memory = 2048, gpus = 1, docker_host = "ssh://me@box" }]',
        executor="docker",
    )
    (ce,) = load(docker).compute_environments
    assert ce.hosts is not None and [h.host_key for h in ce.hosts] == ["local", "ssh://me@box"]
    assert ce.max_vcpus == 6


def test_unknown_instance_type() -> None:
    problem = only(managed('max_vcpus = 8\ninstance_types = ["c5", "c9"]'))
    assert problem.key == "compute_environment[0].compute_resources.instance_types"
    assert "'c9' is not in abatch's catalog" in problem.message


def test_host_mistakes_name_their_key() -> None:
    found = problems_of(
        unmanaged(
            '[{ name = "a", vcpus = 2, memory = 1024, cpu = 1 }, '
            '{ name = "b", vcpus = 0, memory = 1024, docker_host = "http://x" }]'
        )
    )
    by_key = {p.key: str(p) for p in found}
    assert "did you mean 'vcpus'" in by_key["compute_environment[0].hosts[0].cpu"]
    assert "greater than 0" in by_key["compute_environment[0].hosts[1].vcpus"]
    assert "unix://, tcp:// or ssh://" in by_key["compute_environment[0].hosts[1].docker_host"]


def test_host_rules() -> None:
    problem = only(
        unmanaged('[{ name = "a", vcpus = 1, memory = 64, docker_host = "tcp://h:2375" }]')
    )
    assert 'hosts[0].docker_host: a Docker endpoint needs executor = "docker"' in problem.message
    problem = only(
        unmanaged(
            '[{ name = "a", vcpus = 1, memory = 64 }, { name = "a", vcpus = 1, memory = 64 }]'
        )
    )
    assert "hosts[1].name: another host is named 'a'" in problem.message
    problem = only(managed("max_vcpus = 2", 'hosts = [{ name = "a", vcpus = 1, memory = 64 }]'))
    assert "only an UNMANAGED compute environment takes hosts" in problem.message


def test_reclaim_rate_needs_a_spot_fleet() -> None:
    problem = only(managed("max_vcpus = 2", "spot_reclaim_rate = 1"))
    assert "spot_reclaim_rate applies only to a SPOT compute environment" in problem.message
