"""The runtime-side operations the HTTP API needs beyond submit, cancel and terminate:
resource lifecycles (lifecycle.py), scheduling policies and tags (tagging.py), and reads
with AWS's semantics (queries.py). One mixin for `Runtime` to inherit.
"""

from __future__ import annotations

from .lifecycle import REASON_QUEUE_DELETED, LifecycleMixin
from .queries import QueriesMixin, decode_token, encode_token
from .tagging import TaggingMixin


class OperationsMixin(TaggingMixin, LifecycleMixin, QueriesMixin):
    """Create/update/delete of compute environments and queues, policies, tags, ListJobs,
    DescribeJobs with array summaries, GetJobQueueSnapshot."""


__all__ = ["REASON_QUEUE_DELETED", "OperationsMixin", "decode_token", "encode_token"]
