"""A small blocking client of a running runtime's API, for the CLI and the attached TUI
(standard library only; it never imports the server, so a client command stays quick).

`find_runtime(state_dir)` reads `<state_dir>/api.json`, which a serving runtime writes, and
returns its URL when that process is alive. `ApiClient` has one method per operation; an
answer with an error raises `ClientError` (4xx) or `AbatchError` (5xx) with the server's
message, and an unreachable runtime raises `ApiConnectionError`. With authentication on,
requests are signed with the credentials in the state directory.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from abatch.model.errors import AbatchError, ClientError

from .sigv4 import Credentials, load_credentials, sign

API_FILE = "api.json"
LOGS_TARGET = "Logs_20140328."


class ApiConnectionError(AbatchError):
    """The runtime's API cannot be reached."""


def find_runtime(state_dir: Path) -> str | None:
    """The URL of the runtime serving `state_dir`, or None if none is."""
    info = _api_info(state_dir)
    return None if info is None else str(info["url"])


def _api_info(state_dir: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((state_dir / API_FILE).read_text())
        pid, url = int(info["pid"]), info["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # left behind by a runtime that died
    except PermissionError:
        pass  # alive, another user's
    return dict(info)


class ApiClient:
    def __init__(
        self, base_url: str, credentials: Credentials | None = None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout

    @classmethod
    def for_state_dir(cls, state_dir: Path, timeout: float = 30.0) -> ApiClient | None:
        """A client of the runtime serving `state_dir` (signing when it wants signatures)."""
        info = _api_info(state_dir)
        if info is None:
            return None
        creds = load_credentials(state_dir) if info.get("auth") else None
        return cls(str(info["url"]), creds, timeout)

    # ------------------------------------------------------------------ transport

    def call(self, operation: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Any AWS Batch operation by name (`SubmitJob`), body in AWS spelling."""
        return self._send("POST", f"/v1/{operation.lower()}", body or {}, "batch")

    def logs_call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": LOGS_TARGET + operation,
        }
        return self._send("POST", "/", body, "logs", headers)

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        service: str,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else b""
        hdrs = headers or {"Content-Type": "application/json"}
        if self.credentials is not None:
            hdrs = sign(
                self.credentials, method=method, url=url, headers=hdrs, body=data, service=service
            )
        req = urllib.request.Request(url, data=data or None, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise _error(exc) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiConnectionError(
                f"cannot reach the abatch runtime at {self.base_url}: {reason}"
            ) from None
        out: dict[str, Any] = json.loads(raw) if raw else {}
        return out

    # ------------------------------------------------------------------ jobs

    def submit_job(
        self, job_name: str, job_queue: str, job_definition: str, **fields: Any
    ) -> dict[str, Any]:
        body = {"jobName": job_name, "jobQueue": job_queue, "jobDefinition": job_definition}
        return self.call("SubmitJob", {**body, **fields})

    def describe_jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i in range(0, len(job_ids), 100):
            out += self.call("DescribeJobs", {"jobs": job_ids[i : i + 100]})["jobs"]
        return out

    def list_jobs(self, **params: Any) -> dict[str, Any]:
        """One page: jobQueue | arrayJobId | multiNodeJobId, jobStatus, filters, maxResults,
        nextToken (AWS spelling)."""
        return self.call("ListJobs", params)

    def iter_jobs(self, **params: Any) -> Iterator[dict[str, Any]]:
        """Every job summary over all pages."""
        while True:
            page = self.list_jobs(**params)
            yield from page["jobSummaryList"]
            if not page.get("nextToken"):
                return
            params["nextToken"] = page["nextToken"]

    def cancel_job(self, job_id: str, reason: str) -> None:
        self.call("CancelJob", {"jobId": job_id, "reason": reason})

    def terminate_job(self, job_id: str, reason: str) -> None:
        self.call("TerminateJob", {"jobId": job_id, "reason": reason})

    def get_job_queue_snapshot(self, job_queue: str) -> dict[str, Any]:
        return self.call("GetJobQueueSnapshot", {"jobQueue": job_queue})

    # ------------------------------------------------------------------ resources

    def create_compute_environment(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("CreateComputeEnvironment", body)

    def update_compute_environment(self, name: str, **changes: Any) -> dict[str, Any]:
        return self.call("UpdateComputeEnvironment", {"computeEnvironment": name, **changes})

    def delete_compute_environment(self, name: str) -> None:
        self.call("DeleteComputeEnvironment", {"computeEnvironment": name})

    def describe_compute_environments(self, names: list[str] | None = None) -> list[Any]:
        return self._all("DescribeComputeEnvironments", "computeEnvironments", names)

    def create_job_queue(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("CreateJobQueue", body)

    def update_job_queue(self, name: str, **changes: Any) -> dict[str, Any]:
        return self.call("UpdateJobQueue", {"jobQueue": name, **changes})

    def delete_job_queue(self, name: str) -> None:
        self.call("DeleteJobQueue", {"jobQueue": name})

    def describe_job_queues(self, names: list[str] | None = None) -> list[Any]:
        return self._all("DescribeJobQueues", "jobQueues", names)

    def register_job_definition(self, body: dict[str, Any]) -> dict[str, Any]:
        return self.call("RegisterJobDefinition", body)

    def deregister_job_definition(self, ref: str) -> None:
        self.call("DeregisterJobDefinition", {"jobDefinition": ref})

    def describe_job_definitions(self, **params: Any) -> list[Any]:
        """jobDefinitions | jobDefinitionName, status (AWS spelling); every page."""
        out: list[Any] = []
        while True:
            page = self.call("DescribeJobDefinitions", params)
            out += page["jobDefinitions"]
            if not page.get("nextToken"):
                return out
            params["nextToken"] = page["nextToken"]

    def _all(self, op: str, key: str, names: list[str] | None) -> list[Any]:
        params: dict[str, Any] = {key: names} if names is not None else {}
        out: list[Any] = []
        while True:
            page = self.call(op, params)
            out += page[key]
            if not page.get("nextToken"):
                return out
            params["nextToken"] = page["nextToken"]

    # ------------------------------------------------------------------ instances (local)

    def list_instances(self, compute_environment: str | None = None) -> list[dict[str, Any]]:
        body = {"computeEnvironment": compute_environment} if compute_environment else {}
        return list(self.call("ListInstances", body)["instances"])

    def reclaim_instance(self, instance_id: str) -> dict[str, Any]:
        return dict(self.call("ReclaimInstance", {"instanceId": instance_id})["instance"])

    # ------------------------------------------------------------------ policies, tags

    def create_scheduling_policy(
        self, name: str, fairshare_policy: dict[str, Any] | None = None, **fields: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, **fields}
        if fairshare_policy is not None:
            body["fairsharePolicy"] = fairshare_policy
        return self.call("CreateSchedulingPolicy", body)

    def describe_scheduling_policies(self, arns: list[str]) -> list[Any]:
        return list(self.call("DescribeSchedulingPolicies", {"arns": arns})["schedulingPolicies"])

    def list_scheduling_policies(self) -> list[str]:
        return [p["arn"] for p in self._all("ListSchedulingPolicies", "schedulingPolicies", None)]

    def update_scheduling_policy(self, arn: str, fairshare_policy: dict[str, Any]) -> None:
        self.call("UpdateSchedulingPolicy", {"arn": arn, "fairsharePolicy": fairshare_policy})

    def delete_scheduling_policy(self, arn: str) -> None:
        self.call("DeleteSchedulingPolicy", {"arn": arn})

    def list_tags_for_resource(self, arn: str) -> dict[str, str]:
        out = self._send("GET", f"/v1/tags/{quote(arn, safe='')}", None, "batch")
        return dict(out.get("tags") or {})

    def tag_resource(self, arn: str, tags: dict[str, str]) -> None:
        self._send("POST", f"/v1/tags/{quote(arn, safe='')}", {"tags": tags}, "batch")

    def untag_resource(self, arn: str, keys: list[str]) -> None:
        query = urlencode([("tagKeys", k) for k in keys])
        self._send("DELETE", f"/v1/tags/{quote(arn, safe='')}?{query}", None, "batch")

    # ------------------------------------------------------------------ logs

    def get_log_events(self, stream: str, **params: Any) -> dict[str, Any]:
        """startFromHead, nextToken, limit, startTime, endTime (AWS spelling)."""
        body = {"logGroupName": "/aws/batch/job", "logStreamName": stream, **params}
        return self.logs_call("GetLogEvents", body)

    def describe_log_streams(self, **params: Any) -> dict[str, Any]:
        return self.logs_call("DescribeLogStreams", {"logGroupName": "/aws/batch/job", **params})


def _error(exc: urllib.error.HTTPError) -> AbatchError:
    try:
        body = json.loads(exc.read() or b"{}")
        message = str(body.get("message") or body.get("Message") or exc.reason)
    except (OSError, ValueError, AttributeError):
        message = str(exc.reason)
    if exc.code >= 500:
        return AbatchError(message)
    return ClientError(message)
