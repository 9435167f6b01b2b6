"""abatch's own client of a running runtime's API: the layer the CLI's client commands and the
attached terminal UI talk through.

It sits below `tui` and `api` and above `runtime` in the import contract, and imports only the
standard library and `abatch.model`: never the server (aiohttp, the runtime), so that a
client command does not pay for loading them, and the TUI can reach a runtime in another
process without depending on the API package, its sibling.

- `http`: `ApiClient` (one method per operation), `find_runtime` (`<state_dir>/api.json`).
- `sigv4`: the runtime's credentials file and request signing, shared with the server.
"""

from .http import API_FILE, ApiClient, ApiConnectionError, find_runtime

__all__ = ["API_FILE", "ApiClient", "ApiConnectionError", "find_runtime"]
