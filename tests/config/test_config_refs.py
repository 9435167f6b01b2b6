"""Names across tables: duplicates, unknown references, dependencies and cycles."""

from __future__ import annotations

from config_samples import BASE, by_key, jobs, line_of, only, problems_of


def test_duplicate_queue_name() -> None:
    text = BASE + (
        '\n[[job_queue]]\nname = "high"\npriority = 1\n'
        'compute_environment_order = [{ order = 1, compute_environment = "local" }]\n'
    )
    problem = only(text)
    assert problem.key == "job_queue[1].name"
    first = line_of(text, 'name = "high"')
    assert problem.message == (f"another job queue is named 'high' (job_queue[0], line {first})")
    assert problem.line == line_of(text, 'name = "high"', nth=2)


def test_duplicate_job_name() -> None:
    problem = only(jobs("a", "b", "a"))
    assert problem.key == "job[2].name"
    assert problem.message.startswith("another job is named 'a' (job[0], line ")


def test_unknown_compute_environment_from_a_queue() -> None:
    text = BASE.replace('compute_environment = "local"', 'compute_environment = "locl"')
    problem = only(text)
    assert problem.key == "job_queue[0].compute_environment_order[0].compute_environment"
    assert problem.message == "unknown compute environment 'locl'"
    assert problem.hint == "did you mean 'local'?"
    assert problem.line == line_of(text, "locl")


def test_compute_environment_by_arn() -> None:
    arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/local"
    text = BASE.replace('"local" }', f'"{arn}" }}').replace("priority = 10", "priority = 1\nx = 1")
    assert [p.key for p in problems_of(text)] == ["job_queue[0].x"]


def test_unknown_queue_and_definition_from_a_job() -> None:
    text = jobs("a").replace('job_queue = "high"', 'job_queue = "hihg"')
    text = text.replace('job_definition = "sleeper"', 'job_definition = "sleepr:2"')
    found = problems_of(text)
    queue = by_key(found, "job[0].job_queue")
    assert (queue.message, queue.hint) == ("unknown job queue 'hihg'", "did you mean 'high'?")
    assert queue.line == line_of(text, "hihg")
    definition = by_key(found, "job[0].job_definition")
    assert definition.message == "unknown job definition 'sleepr'"
    assert definition.hint == "did you mean 'sleeper'?"


def test_definition_with_revision_is_accepted() -> None:
    text = jobs("a").replace('job_definition = "sleeper"', 'job_definition = "sleeper:3"')
    assert problems_of(text.replace('name = "a"', 'name = "a"\nx = 1'))[0].key == "job[0].x"


def test_unknown_reference_without_a_close_name_lists_known_names() -> None:
    problem = only(jobs("a").replace('job_queue = "high"', 'job_queue = "zzz"'))
    assert problem.hint == "known: 'high'"


def test_unknown_job_in_depends_on() -> None:
    text = jobs("build", "test", extra='depends_on = ["biuld"]\n')
    problem = only(text)
    assert problem.key == "job[1].depends_on[0]"
    assert (problem.message, problem.hint) == ("unknown job 'biuld'", "did you mean 'build'?")
    assert problem.line == line_of(text, "biuld")


def test_dependency_cycle_is_reported_once_in_order() -> None:
    text = BASE
    for name, dep in (("a", "b"), ("b", "c"), ("c", "a")):
        text += f'\n[[job]]\nname = "{name}"\njob_queue = "high"\n'
        text += f'job_definition = "sleeper"\ndepends_on = ["{dep}"]\n'
    problem = only(text)
    assert problem.message == "dependency cycle: a -> b -> c -> a"
    assert problem.key == "job[0].depends_on"
    assert problem.line == line_of(text, 'depends_on = ["b"]')


def test_self_dependency_is_a_cycle() -> None:
    assert only(jobs("a", extra='depends_on = ["a"]\n')).message == "dependency cycle: a -> a"


def test_two_separate_cycles() -> None:
    text = jobs("a", extra='depends_on = ["b"]\n') + "".join(
        jobs_extra
        for jobs_extra in (
            '\n[[job]]\nname = "b"\njob_queue = "high"\njob_definition = "sleeper"\n'
            'depends_on = ["a"]\n',
            '\n[[job]]\nname = "c"\njob_queue = "high"\njob_definition = "sleeper"\n'
            'depends_on = ["c"]\n',
        )
    )
    assert sorted(p.message for p in problems_of(text)) == [
        "dependency cycle: a -> b -> a",
        "dependency cycle: c -> c",
    ]


def test_dependency_shapes() -> None:
    text = jobs(
        "a",
        "b",
        extra=(
            "array_size = 2\n"
            'depends_on = ["a", { job = "a", type = "N_TO_N" }, { type = "SEQUENTIAL" }, '
            '{ job = "a", type = "SEQUENTIAL" }, { type = "N_TO_N" }, 7, { type = "ALL" }]\n'
        ),
    )
    found = problems_of(text)
    assert by_key(found, "job[1].depends_on[1]").message == (
        "N_TO_N needs two array jobs of the same size "
        "(this one: array_size 2, 'a': not an array job)"
    )
    assert "takes no job" in by_key(found, "job[1].depends_on[3]").message
    assert by_key(found, "job[1].depends_on[4]").message == "needs a job"
    assert by_key(found, "job[1].depends_on[5]").message == ("must be a job name or a table, not 7")
    assert by_key(found, "job[1].depends_on[6].type").message == (
        "must be 'N_TO_N' or 'SEQUENTIAL', not 'ALL'"
    )
    assert len(found) == 5


def test_sequential_needs_an_array_job() -> None:
    problem = only(jobs("a", extra='depends_on = [{ type = "SEQUENTIAL" }]\n'))
    assert problem.message == "SEQUENTIAL applies to array jobs only: give array_size"


def test_at_most_twenty_dependencies() -> None:
    names = [f"j{i}" for i in range(21)]
    deps = ", ".join(f'"{n}"' for n in names)
    problem = only(jobs(*names, "last", extra=f"depends_on = [{deps}]\n"))
    assert (problem.key, problem.message) == (
        "job[21].depends_on",
        "a job can depend on at most 20 jobs, not 21",
    )


def test_fargate_and_ec2_cannot_share_a_queue() -> None:
    text = BASE.replace(
        "[[job_queue]]",
        '[[compute_environment]]\nname = "fg"\ncompute_resources = { type = "FARGATE", '
        "max_vcpus = 4 }\n\n[[job_queue]]",
    ).replace(
        '[{ order = 1, compute_environment = "local" }]',
        '[{ order = 1, compute_environment = "local" }, { order = 2, compute_environment = "fg" }]',
    )
    problem = only(text)
    assert problem.key == "job_queue[0].compute_environment_order"
