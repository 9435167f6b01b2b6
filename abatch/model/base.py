"""Shared pydantic base, names, ARNs and time helpers.

Attributes are snake_case; on the wire (and in AWS JSON files) the camelCase alias is used.
Both spellings are accepted on input. Unknown fields are refused so a misspelled key is an
error, never silently ignored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"

NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
JOB_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

# AWS spells a few fields in ways to_camel does not produce.
_ALIAS_EXCEPTIONS = {
    "min_vcpus": "minvCpus",
    "max_vcpus": "maxvCpus",
    "desired_vcpus": "desiredvCpus",
    "unmanaged_vcpus": "unmanagedvCpus",
    "size_in_gib": "sizeInGiB",
}


def aws_alias(name: str) -> str:
    return _ALIAS_EXCEPTIONS.get(name) or to_camel(name)


class AwsModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=aws_alias,
        populate_by_name=True,
        extra="forbid",
        use_enum_values=False,
        validate_assignment=False,
    )

    def to_aws(self) -> dict[str, Any]:
        """The AWS JSON shape: camelCase, fields that do not apply left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _check_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid name: use 1-128 letters, digits, hyphens or underscores"
        )
    return value


def _check_job_name(value: str) -> str:
    if not JOB_NAME_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid job name: start with a letter or digit, then up to 127 "
            "letters, digits, hyphens or underscores"
        )
    return value


ResourceName = Annotated[str, AfterValidator(_check_name)]
JobName = Annotated[str, AfterValidator(_check_job_name)]


def arn(kind: str, name: str) -> str:
    return f"arn:{PARTITION}:batch:{REGION}:{ACCOUNT}:{kind}/{name}"


def ce_arn(name: str) -> str:
    return arn("compute-environment", name)


def jq_arn(name: str) -> str:
    return arn("job-queue", name)


def jd_arn(name: str, revision: int) -> str:
    return arn("job-definition", f"{name}:{revision}")


def job_arn(job_id: str) -> str:
    return arn("job", job_id)


_ARN_RE = re.compile(r"^arn:[a-z-]+:batch:[a-z0-9-]*:\d*:(?P<kind>[a-z-]+)/(?P<rest>.+)$")


def name_from_ref(ref: str, kind: str) -> str:
    """A name from a name or an ARN of the given kind ('job-queue', 'compute-environment', …)."""
    if not ref.startswith("arn:"):
        return ref  # a plain name (most references): no regex on the submission path
    m = _ARN_RE.match(ref)
    if m is None:
        return ref
    if m.group("kind") != kind:
        raise ValueError(f"{ref!r} is an ARN of a {m.group('kind')}, not of a {kind}")
    return m.group("rest")


def parse_jd_ref(ref: str) -> tuple[str, int | None]:
    """`name`, `name:rev` or an ARN (with or without revision) -> (name, revision or None)."""
    rest = name_from_ref(ref, "job-definition")
    name, sep, rev = rest.partition(":")
    if not sep:
        return name, None
    if not rev.isdigit() or int(rev) < 1:
        raise ValueError(f"{ref!r}: the revision must be a positive integer")
    return name, int(rev)
