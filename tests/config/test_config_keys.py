"""Unknown keys and tables, anywhere, each with a "did you mean"."""

from __future__ import annotations

from config_samples import BASE, by_key, jobs, line_of, only, problems_of


def test_unknown_nested_key_with_did_you_mean() -> None:
    text = BASE.replace('command = ["sleep"', 'comand = ["sleep"')
    problem = only(text.replace("image =", "# image ="))
    assert problem.key == "job_definition[0].container_properties.comand"
    assert problem.message == "unknown key"
    assert problem.hint == "did you mean 'command'?"
    assert problem.line == line_of(text, "comand")


def test_unknown_top_level_table() -> None:
    text = BASE + '\n[[job_queues]]\nname = "x"\n'
    problem = only(text)
    assert (problem.key, problem.message) == ("job_queues", "unknown table")
    assert problem.hint == "did you mean 'job_queue'?"
    assert problem.line == line_of(text, "[[job_queues]]")


def test_features_abatch_does_not_have_are_unknown_tables() -> None:
    found = problems_of(BASE + '\n[[consumable_resource]]\nname = "p"\n')
    assert [(p.key, p.message) for p in found] == [("consumable_resource", "unknown table")]


def test_unknown_key_in_inline_table_of_an_array() -> None:
    text = BASE.replace("{ order = 1, compute_environment", "{ order = 1, compute_envronment")
    found = problems_of(text)
    problem = by_key(found, "job_queue[0].compute_environment_order[0].compute_envronment")
    assert problem.hint == "did you mean 'compute_environment'?"
    assert problem.line == line_of(text, "compute_envronment")
    # the model then misses the real key, reported at the same element
    assert by_key(found, "job_queue[0].compute_environment_order[0].compute_environment")


def test_camel_case_is_refused_in_toml_with_the_snake_case_spelling() -> None:
    text = BASE.replace("max_vcpus = 4", "maxvCpus = 4")
    found = problems_of(text)
    problem = by_key(found, "compute_environment[0].compute_resources.maxvCpus")
    assert problem.hint == "did you mean 'max_vcpus'? keys are snake_case in TOML"
    assert by_key(found, "compute_environment[0].compute_resources.max_vcpus").message == (
        "is required"
    )


def test_model_field_names_of_renamed_keys_point_at_name() -> None:
    problem = only(BASE.replace('name = "high"', 'name = "high"\njob_queue_name = "x"'))
    assert (problem.key, problem.hint) == ("job_queue[0].job_queue_name", "did you mean 'name'?")


def test_runtime_fields_set_by_the_runtime_are_unknown() -> None:
    problem = only(BASE.replace('name = "high"', 'name = "high"\nstatus = "VALID"'))
    assert problem.key == "job_queue[0].status"


def test_unknown_runtime_key() -> None:
    problem = only('[runtime]\nstate_dri = "x"\n' + BASE)
    assert (problem.key, problem.line, problem.hint) == (
        "runtime.state_dri",
        2,
        "did you mean 'state_dir'?",
    )


def test_single_table_instead_of_array_of_tables() -> None:
    problem = only(BASE + '\n[job]\nname = "a"\n')
    assert (problem.key, problem.message) == ("job", "must be an array of tables")
    assert problem.hint == "write [[job]] instead of [job]"


def test_job_keys_that_belong_elsewhere() -> None:
    text = jobs("a", extra='command = ["echo"]\narray_properties = { size = 2 }\n')
    found = problems_of(text)
    assert by_key(found, "job[0].command").hint == (
        "a job sets command in container_overrides = { command = … }"
    )
    assert by_key(found, "job[0].array_properties").hint == "write array_size = N"


def test_unknown_key_in_depends_on_table() -> None:
    found = problems_of(jobs("a", "b", extra='depends_on = [{ jbo = "a" }]\n'))
    assert by_key(found, "job[1].depends_on[0].jbo").hint == "did you mean 'job'?"


def test_free_maps_take_any_key() -> None:
    text = jobs("a", extra='tags = { "team.name" = "x", Owner = "y" }\nparameters = { s = "1" }\n')
    assert problems_of(text.replace('name = "a"', 'name = "a"\nbogus = 1'))[0].key == (
        "job[0].bogus"
    )
