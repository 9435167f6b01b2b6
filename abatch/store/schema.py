"""Numbered migrations. `PRAGMA user_version` holds the schema version.

Add a migration by appending to MIGRATIONS; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: resources, jobs, attempts.
    """
    CREATE TABLE compute_environments (
        name TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE job_queues (
        name TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE job_definitions (
        name TEXT NOT NULL,
        revision INTEGER NOT NULL,
        status TEXT NOT NULL,
        doc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (name, revision)
    );
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        job_name TEXT NOT NULL,
        job_queue TEXT NOT NULL,
        job_definition TEXT NOT NULL,
        status TEXT NOT NULL,
        status_reason TEXT,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        stopped_at INTEGER,
        seq INTEGER NOT NULL,
        vcpus REAL NOT NULL,
        memory INTEGER NOT NULL,
        gpus INTEGER NOT NULL,
        ce TEXT,
        flags INTEGER NOT NULL DEFAULT 0,
        history TEXT NOT NULL,
        spec TEXT NOT NULL
    );
    CREATE INDEX jobs_by_queue_status ON jobs (job_queue, status, seq);
    CREATE INDEX jobs_by_status ON jobs (status, seq);
    CREATE INDEX jobs_by_created ON jobs (created_at);
    CREATE TABLE attempts (
        job_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        ce TEXT NOT NULL,
        task_id TEXT NOT NULL,
        log_stream TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        started_at INTEGER,
        stopped_at INTEGER,
        exit_code INTEGER,
        reason TEXT,
        status_reason TEXT,
        pid INTEGER,
        PRIMARY KEY (job_id, number)
    );
    """,
    # 2: schedules (EventBridge-style): when each last fired, so a restart fires a missed
    # tick once instead of once per missed tick.
    """
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        last_fired_at INTEGER,
        fired_count INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 3: what the HTTP API adds: scheduling policies, tags changed on jobs after submit,
    # ListJobs pages of a queue's top-level jobs (the WHERE clause is repeated verbatim by
    # the queries in extra.py), log streams looked up by name.
    """
    CREATE TABLE scheduling_policies (
        name TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE job_tags (
        job_id TEXT PRIMARY KEY,
        tags TEXT NOT NULL
    );
    CREATE INDEX jobs_top_by_queue_status ON jobs (job_queue, status, created_at, job_id)
        WHERE instr(job_id, ':') = 0 AND instr(job_id, '#') = 0;
    CREATE INDEX jobs_top_by_queue ON jobs (job_queue, created_at, job_id)
        WHERE instr(job_id, ':') = 0 AND instr(job_id, '#') = 0;
    CREATE INDEX attempts_by_stream ON attempts (log_stream);
    CREATE INDEX attempts_by_start ON attempts (started_at, log_stream);
    """,
    # 4: instances of managed compute environments (virtual EC2 instances): the live ones
    # come back after a restart; each attempt names the instance it ran on.
    """
    CREATE TABLE instances (
        instance_id TEXT PRIMARY KEY,
        ce TEXT NOT NULL,
        instance_type TEXT NOT NULL,
        launched_at INTEGER NOT NULL,
        retired_at INTEGER,
        retired_reason TEXT
    );
    CREATE INDEX instances_live ON instances (ce) WHERE retired_at IS NULL;
    ALTER TABLE attempts ADD COLUMN instance_id TEXT;
    """,
    # 5: fair share rebuilds each share identifier's usage at start-up from the attempts
    # that ended inside the decay window.
    """
    CREATE INDEX attempts_by_stop ON attempts (stopped_at) WHERE started_at IS NOT NULL;
    """,
    # 6: the GPU device ids an attempt holds (comma-separated; '' for none), so a restart
    # that adopts a running attempt takes the same devices back.
    """
    ALTER TABLE attempts ADD COLUMN gpu_ids TEXT NOT NULL DEFAULT '';
    """,
    # 7: ListJobs breaks ties of createdAt by rowid (creation order), not by job id. The jobs
    # of one submission share their createdAt, so keys ending in a random job id made every
    # insert land at a random place in both indexes (100,000 jobs: 1.9 s of inserts, 1.0 s
    # without these two); a rowid (the index's implicit last column) only ever appends.
    """
    DROP INDEX jobs_top_by_queue_status;
    DROP INDEX jobs_top_by_queue;
    CREATE INDEX jobs_top_by_queue_status ON jobs (job_queue, status, created_at)
        WHERE instr(job_id, ':') = 0 AND instr(job_id, '#') = 0;
    CREATE INDEX jobs_top_by_queue ON jobs (job_queue, created_at)
        WHERE instr(job_id, ':') = 0 AND instr(job_id, '#') = 0;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)
