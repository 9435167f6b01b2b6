"""`[[schedule]]` tables: valid schedules, and every problem reported with key and line."""

from __future__ import annotations

from config_samples import BASE, by_key, jobs, line_of, load, only, problems_of

from abatch.config import RELAXED_LIMITS, ConfigSchedule

NIGHTLY = """
[[schedule]]
name = "nightly"
schedule_expression = "cron(0 2 * * ? *)"
[schedule.job]
name = "nightly-report"
job_queue = "high"
job_definition = "sleeper"
parameters = { seconds = "3" }
"""

FAST = """
[[schedule]]
name = "fast"
schedule_expression = "rate(10 seconds)"
state = "DISABLED"
job = { name = "tick", job_queue = "high", job_definition = "sleeper:1", array_size = 2 }
"""


def test_schedules_are_loaded_in_file_order() -> None:
    text = BASE + NIGHTLY + FAST
    config = load(text)
    nightly, fast = config.schedules
    assert isinstance(nightly, ConfigSchedule)
    assert (nightly.name, nightly.expression, nightly.enabled) == (
        "nightly",
        "cron(0 2 * * ? *)",
        True,
    )
    assert nightly.line == line_of(text, "[[schedule]]")
    request = nightly.request
    assert (request.job_name, request.job_queue, request.job_definition) == (
        "nightly-report",
        "high",
        "sleeper",
    )
    assert request.parameters == {"seconds": "3"}
    assert request.depends_on is None
    assert (fast.name, fast.expression, fast.enabled) == ("fast", "rate(10 seconds)", False)
    assert fast.request.array_properties is not None
    assert fast.request.array_properties.size == 2
    assert fast.line == line_of(text, "[[schedule]]", nth=2)


def test_a_config_without_schedules_has_none() -> None:
    assert load(jobs("a")).schedules == []


def test_schedules_and_jobs_live_side_by_side() -> None:
    config = load(jobs("a", "b") + NIGHTLY)
    assert [j.request.job_name for j in config.jobs] == ["a", "b"]
    assert [s.name for s in config.schedules] == ["nightly"]


def test_unknown_keys_with_did_you_mean() -> None:
    text = BASE + NIGHTLY.replace('name = "nightly"\n', 'name = "nightly"\nstat = "ENABLED"\n')
    text = text.replace('parameters = { seconds = "3" }', 'parameter = { seconds = "3" }')
    found = problems_of(text)
    assert [p.key for p in found] == ["schedule[0].stat", "schedule[0].job.parameter"]
    state = by_key(found, "schedule[0].stat")
    assert (state.message, state.hint) == ("unknown key", "did you mean 'state'?")
    assert state.line == line_of(text, "stat =")
    param = by_key(found, "schedule[0].job.parameter")
    assert param.hint == "did you mean 'parameters'?"
    assert param.line == line_of(text, "parameter =")


def test_misplaced_keys_get_a_pointed_hint() -> None:
    text = BASE + NIGHTLY.replace("schedule_expression =", "expression =")
    text = text.replace('name = "nightly"\n', 'name = "nightly"\njob_queue = "high"\n')
    found = problems_of(text)
    assert by_key(found, "schedule[0].expression").hint == "did you mean 'schedule_expression'?"
    assert by_key(found, "schedule[0].job_queue").hint == ("it belongs in the [schedule.job] table")
    assert by_key(found, "schedule[0].schedule_expression").message == "is required"


def test_invalid_expression_reports_the_parser_message() -> None:
    text = BASE + NIGHTLY.replace("cron(0 2 * * ? *)", "cron(0 2 * * ? 1900)")
    problem = only(text)
    assert problem.key == "schedule[0].schedule_expression"
    assert problem.message == "cron year: '1900' is out of range 1970-2199"
    assert problem.line == line_of(text, "schedule_expression")


def test_rate_unit_must_agree_with_the_value() -> None:
    problem = only(BASE + NIGHTLY.replace("cron(0 2 * * ? *)", "rate(5 minute)"))
    assert problem.message == "rate: with the value 5 the unit is 'minutes', not 'minute'"


def test_expression_of_the_wrong_type() -> None:
    problem = only(BASE + NIGHTLY.replace('"cron(0 2 * * ? *)"', "5"))
    assert problem.key == "schedule[0].schedule_expression"
    assert problem.message == "must be a string, not 5"


def test_bad_name_and_state() -> None:
    text = BASE + NIGHTLY.replace('name = "nightly"', 'name = "night ly"\nstate = "enabled"')
    found = problems_of(text)
    name = by_key(found, "schedule[0].name")
    assert name.message == ("must be 1-128 letters, digits, hyphens or underscores, not 'night ly'")
    state = by_key(found, "schedule[0].state")
    assert state.message == "must be 'ENABLED' or 'DISABLED', not 'enabled'"
    assert state.hint == "did you mean 'ENABLED'?"
    assert state.line == line_of(text, "state =")
    assert len(found) == 2


def test_missing_name_expression_and_job() -> None:
    text = BASE + '\n[[schedule]]\nstate = "ENABLED"\n'
    found = problems_of(text)
    header = line_of(text, "[[schedule]]")
    assert [(p.key, p.message, p.line) for p in found] == [
        ("schedule[0].name", "is required", header),
        ("schedule[0].schedule_expression", "is required", header),
        ("schedule[0].job", "is required", header),
    ]
    assert "[schedule.job]" in (found[2].hint or "")


def test_job_must_be_a_table() -> None:
    text = BASE + FAST.replace("job = {", 'job = "tick"\nold_job = {')
    found = problems_of(text)
    assert by_key(found, "schedule[0].old_job").message == "unknown key"
    problem = by_key(found, "schedule[0].job")
    assert problem.key == "schedule[0].job"
    assert problem.message == "must be a table, not 'tick'"


def test_job_values_are_validated_like_a_job() -> None:
    text = BASE + NIGHTLY.replace('name = "nightly-report"', 'name = "bad name!"')
    text = text.replace(
        'parameters = { seconds = "3" }', "timeout = { attempt_duration_seconds = 0 }"
    )
    found = problems_of(text)
    assert by_key(found, "schedule[0].job.name").line == line_of(text, "bad name!")
    timeout = by_key(found, "schedule[0].job.timeout.attempt_duration_seconds")
    assert timeout.message == "must be at least 1, got 0"
    assert len(found) == 2


def test_depends_on_is_refused_in_a_schedules_job() -> None:
    text = jobs("a") + NIGHTLY.replace("parameters =", 'depends_on = ["a"]\nparameters =')
    problem = only(text)
    assert problem.key == "schedule[0].job.depends_on"
    assert problem.message == "is not allowed in a schedule's job"
    assert problem.line == line_of(text, "depends_on")


def test_unknown_queue_and_definition() -> None:
    text = BASE + NIGHTLY.replace('job_queue = "high"', 'job_queue = "hihg"')
    text = text.replace('job_definition = "sleeper"', 'job_definition = "sleepr"')
    found = problems_of(text)
    queue = by_key(found, "schedule[0].job.job_queue")
    assert (queue.message, queue.hint) == ("unknown job queue 'hihg'", "did you mean 'high'?")
    assert queue.line == line_of(text, "hihg")
    definition = by_key(found, "schedule[0].job.job_definition")
    assert definition.message == "unknown job definition 'sleepr'"
    assert definition.hint == "did you mean 'sleeper'?"
    assert len(found) == 2


def test_unknown_queue_in_an_inline_job_table() -> None:
    text = BASE + FAST.replace('job_queue = "high"', 'job_queue = "low"')
    problem = only(text)
    assert problem.key == "schedule[0].job.job_queue"
    assert problem.line == line_of(text, 'job_queue = "low"')


def test_duplicate_schedule_names() -> None:
    text = BASE + NIGHTLY + NIGHTLY.replace("cron(0 2", "cron(0 3")
    problem = only(text)
    assert problem.key == "schedule[1].name"
    first = line_of(text, 'name = "nightly"')
    assert problem.message == f"another schedule is named 'nightly' (schedule[0], line {first})"
    assert problem.line == line_of(text, 'name = "nightly"', nth=2)


def test_schedule_must_be_an_array_of_tables() -> None:
    problem = only(BASE + '\n[schedule]\nname = "s"\n')
    assert (problem.key, problem.message) == ("schedule", "must be an array of tables")
    assert problem.hint == "write [[schedule]] instead of [schedule]"


def test_misspelled_table_name() -> None:
    problem = only(
        BASE
        + NIGHTLY.replace("[[schedule]]", "[[schedules]]").replace(
            "[schedule.job]", "[schedules.job]"
        )
    )
    assert (problem.key, problem.message) == ("schedules", "unknown table")
    assert problem.hint == "did you mean 'schedule'?"


def test_strict_mode_refuses_seconds() -> None:
    text = BASE + FAST
    assert load(text).schedules[0].expression == "rate(10 seconds)"
    problem = only(text, strict=True)
    assert problem.key == "schedule[0].schedule_expression"
    assert "abatch extension" in problem.message and "strict mode" in problem.message
    assert problem.line == line_of(text, "schedule_expression")
    assert load(BASE + NIGHTLY, strict=True).schedules[0].name == "nightly"


def test_strict_mode_checks_a_schedules_job_like_a_job() -> None:
    text = BASE + NIGHTLY.replace(
        "parameters =", "timeout = { attempt_duration_seconds = 5 }\nparameters ="
    )
    assert load(text).schedules
    problem = only(text, strict=True)
    assert problem.key == "schedule[0].job.timeout.attempt_duration_seconds"


def test_every_problem_at_once() -> None:
    text = (
        BASE
        + NIGHTLY.replace("cron(0 2 * * ? *)", "rate(0 minutes)")
        + FAST.replace('"fast"', '"nightly"').replace('state = "DISABLED"', 'state = "OFF"')
    )
    found = problems_of(text)
    assert [p.key for p in found] == [
        "schedule[0].schedule_expression",
        "schedule[1].name",
        "schedule[1].state",
    ]


def test_relaxed_limits_list_seconds() -> None:
    assert RELAXED_LIMITS["a rate schedule counts minutes, hours or days"].startswith("seconds")
