"""Job ids are random version-4 UUIDs in the usual text form, as AWS Batch gives them."""

from __future__ import annotations

import uuid

from abatch.runtime.submit import new_job_id


def test_job_ids_are_distinct_version_4_uuids() -> None:
    ids = [new_job_id() for _ in range(20_000)]  # several refills of the random buffer
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lower-case, dashes where uuid puts them
