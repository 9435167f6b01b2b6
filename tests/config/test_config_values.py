"""Wrong types, missing fields, bad sizes, bad names and commands: keyed, lined, readable."""

from __future__ import annotations

from config_samples import BASE, by_key, jobs, line_of, only, problems_of


def test_wrong_type() -> None:
    text = BASE.replace("priority = 10", 'priority = "high"')
    problem = only(text)
    assert problem.key == "job_queue[0].priority"
    assert problem.message == "must be a whole number, not 'high'"
    assert problem.line == line_of(text, "priority")


def test_missing_required_fields_are_located_at_the_table_header() -> None:
    text = BASE + '\n[[job_queue]]\nname = "low"\n'
    found = problems_of(text)
    header = line_of(text, "[[job_queue]]", nth=2)
    assert [(p.key, p.message, p.line) for p in found] == [
        ("job_queue[1].priority", "is required", header),
        ("job_queue[1].compute_environment_order", "is required", header),
    ]


def test_missing_name() -> None:
    found = problems_of(BASE.replace('name = "local"\n', ""))
    problem = by_key(found, "compute_environment[0].name")
    assert (problem.message, problem.line) == ("is required", 1)


def test_zero_max_vcpus() -> None:
    text = BASE.replace("max_vcpus = 4", "max_vcpus = 0")
    problem = only(text)
    assert problem.key == "compute_environment[0].compute_resources.max_vcpus"
    assert problem.message == "must be greater than 0, got 0"
    assert problem.line == line_of(text, "max_vcpus")


def test_negative_local_memory() -> None:
    text = BASE.replace('name = "local"', 'name = "local"\nmemory = -1')
    problem = only(text)
    assert (problem.key, problem.message) == (
        "compute_environment[0].memory",
        "must be greater than 0, got -1",
    )
    assert problem.line == line_of(text, "memory = -1")


def test_zero_vcpu_and_tiny_memory_requirements() -> None:
    text = BASE.replace('value = "1" }', 'value = "0" }').replace('"128"', '"2"')
    found = problems_of(text)
    key = "job_definition[0].container_properties.resource_requirements"
    assert by_key(found, f"{key}[0]").message == "VCPU must be greater than 0, got 0"
    assert by_key(found, f"{key}[1]").message == "MEMORY must be at least 4 MiB, got 2"
    assert {p.line for p in found} == {line_of(text, "resource_requirements")}


def test_non_finite_requirements_are_refused() -> None:
    found = problems_of(BASE.replace('value = "1" }', 'value = "nan" }'))
    assert found[0].message == "VCPU value 'nan' is not a finite number"


def test_infinite_gpu_count_is_a_problem_not_a_crash() -> None:
    text = BASE.replace('{ type = "MEMORY", value = "128" }', '{ type = "GPU", value = "inf" }')
    problem = only(text)
    assert problem.key == "job_definition[0].container_properties.resource_requirements[1]"
    assert problem.message == "GPU value 'inf' is not a finite number"


def test_number_where_a_string_is_expected_hints_quotes() -> None:
    problem = only(BASE.replace('value = "128"', "value = 128"))
    assert problem.key == ("job_definition[0].container_properties.resource_requirements[1].value")
    assert problem.message == "must be a string, not 128"
    assert problem.hint == 'write it in quotes: "128"'


def test_illegal_name() -> None:
    text = BASE.replace('name = "high"', 'name = "my queue"')
    found = problems_of(text)
    problem = by_key(found, "job_queue[0].name")
    assert problem.message.startswith("'my queue' is not a valid name")
    assert problem.line == line_of(text, "my queue")


def test_illegal_job_name() -> None:
    problem = only(jobs("-a"))
    assert problem.key == "job[0].name"
    assert "is not a valid job name" in problem.message


def test_command_must_be_a_list() -> None:
    text = BASE.replace('command = ["sleep", "Ref::seconds"]', 'command = "echo hi"')
    problem = only(text)
    assert problem.key == "job_definition[0].container_properties.command"
    assert problem.message == "must be a list of strings, not 'echo hi'"
    assert problem.hint is not None and "no shell" in problem.hint
    assert problem.line == line_of(text, "command =")


def test_command_elements_must_be_strings() -> None:
    text = BASE.replace('command = ["sleep", "Ref::seconds"]', 'command = ["echo", 3]')
    problem = only(text)
    assert problem.key == "job_definition[0].container_properties.command[1]"
    assert problem.message == "must be a string, not 3"
    assert problem.line == line_of(text, "command =")


def test_override_command_elements_in_a_multi_line_array() -> None:
    text = jobs("a", extra='container_overrides = { command = [\n  "echo",\n  3,\n] }\n')
    problem = only(text)
    assert problem.key == "job[0].container_overrides.command[1]"
    assert problem.line == line_of(text, "  3,")


def test_more_than_three_compute_environments_on_a_queue() -> None:
    ces = "".join(
        f'\n[[compute_environment]]\nname = "ce{i}"\n'
        f"[compute_environment.compute_resources]\nmax_vcpus = 1\n"
        for i in range(4)
    )
    order = ", ".join(f'{{ order = {i}, compute_environment = "ce{i}" }}' for i in range(4))
    text = BASE + ces + '\n[[job_queue]]\nname = "wide"\npriority = 1\n'
    text += f"compute_environment_order = [{order}]\n"
    problem = only(text)
    assert problem.key == "job_queue[1].compute_environment_order"
    assert problem.message == "a job queue can use at most 3 compute environments, not 4"


def test_enum_values() -> None:
    problem = only(BASE.replace('name = "high"', 'name = "high"\nstate = "ON"'))
    assert problem.key == "job_queue[0].state"
    assert problem.message == "must be 'ENABLED' or 'DISABLED', not 'ON'"


def test_model_level_rule_is_reported_at_the_table() -> None:
    text = BASE.replace("[compute_environment.compute_resources]\nmax_vcpus = 4\n", "")
    problem = only(text)
    assert problem.key == "compute_environment[0]"
    assert problem.message == "a MANAGED compute environment needs compute_resources"
    assert problem.line == 1


def test_array_size_out_of_range() -> None:
    problem = only(jobs("a", extra="array_size = 1\n"))
    assert (problem.key, problem.message) == ("job[0].array_size", "must be at least 2, got 1")


def test_runtime_limits() -> None:
    text = "[runtime]\nkill_grace_seconds = 0\nlog_tail_lines = 5000\nstate_dir = ''\n" + BASE
    found = problems_of(text)
    assert by_key(found, "runtime.kill_grace_seconds").line == 2
    assert by_key(found, "runtime.log_tail_lines").message == "must be at most 1000, got 5000"
    assert by_key(found, "runtime.state_dir").line == 4


def test_runtime_types_are_strict() -> None:
    found = problems_of('[runtime]\nstrict = "yes"\nlog_tail_lines = "5"\n')
    assert by_key(found, "runtime.strict").message == "must be true or false, not 'yes'"
    assert by_key(found, "runtime.log_tail_lines").message == "must be a whole number, not '5'"


def test_runtime_must_be_a_table() -> None:
    problem = only("[[runtime]]\nstrict = true\n")
    assert (problem.key, problem.line, problem.hint) == ("runtime", 1, "write [runtime]")


def test_every_problem_is_reported_at_once() -> None:
    text = BASE.replace("priority = 10", 'priority = "x"').replace("max_vcpus = 4", "max_vcpus = 0")
    text = text.replace('"128"', '"2"')
    assert len(problems_of(text)) == 3
