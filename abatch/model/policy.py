"""Scheduling policies (`SchedulingPolicyDetail`) and the tag rules shared by every resource.

A policy holds a fair-share policy (reference §1.3); quota-share policies belong to the
SageMaker side of AWS Batch, which abatch does not implement. Limits are the reference's §11.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from .base import AwsModel, ResourceName, arn

MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


class ShareAttributes(AwsModel):
    share_identifier: str = Field(min_length=1, max_length=255)
    weight_factor: float | None = Field(default=None, ge=0.0001, le=999.9999)


class FairsharePolicy(AwsModel):
    share_decay_seconds: int | None = Field(default=None, ge=0, le=604800)
    compute_reservation: int | None = Field(default=None, ge=0, le=99)
    share_distribution: list[ShareAttributes] | None = None

    @model_validator(mode="after")
    def _no_overlap(self) -> FairsharePolicy:
        ids = [s.share_identifier for s in self.share_distribution or []]
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                if a == b:
                    raise ValueError(f"shareIdentifier {a!r} is listed twice")
                if _covers(a, b) or _covers(b, a):
                    raise ValueError(f"shareIdentifiers {a!r} and {b!r} overlap")
        return self


def _covers(prefix: str, other: str) -> bool:
    """`UserA*` covers `UserA1` and `UserA1*`."""
    return prefix.endswith("*") and other.rstrip("*").startswith(prefix[:-1])


def policy_arn(name: str) -> str:
    return arn("scheduling-policy", name)


class SchedulingPolicy(AwsModel):
    name: ResourceName
    fairshare_policy: FairsharePolicy | None = None
    tags: dict[str, str] | None = None

    @property
    def arn(self) -> str:
        return policy_arn(self.name)

    def to_aws(self) -> dict[str, Any]:
        out = super().to_aws()
        out["arn"] = self.arn
        return out


def tag_problem(tags: dict[str, str]) -> str | None:
    """What is wrong with a tag map under AWS's rules, or None."""
    if len(tags) > MAX_TAGS:
        return f"at most {MAX_TAGS} tags, got {len(tags)}"
    for key, value in tags.items():
        if not 1 <= len(key) <= MAX_TAG_KEY:
            return f"tag key {key[:40]!r}: keys are 1-{MAX_TAG_KEY} characters"
        if len(value) > MAX_TAG_VALUE:
            return f"tag {key!r}: values are at most {MAX_TAG_VALUE} characters"
        if key.lower().startswith("aws:"):
            return f"tag key {key!r}: the aws: prefix is reserved"
    return None
