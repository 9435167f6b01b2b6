"""The AWS-compatible HTTP API: AWS Batch (rest-json) and the CloudWatch Logs subset that
reading job logs needs, served from inside the runtime. See COMPATIBILITY.md for what each
operation supports.
"""

from .server import DEFAULT_PORT, ApiServer, serve_api

__all__ = ["DEFAULT_PORT", "ApiServer", "serve_api"]
