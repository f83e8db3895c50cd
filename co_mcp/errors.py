"""The exception tree every co_mcp layer raises and the server maps once.

    CoMcpError                       root; ``str(err)`` is safe to show a user or a model
    ├── ConfigurationError           settings missing or invalid (names the variables)
    ├── AuditLogError                the audit log cannot take a record, so no write is sent
    ├── InvalidArgumentError         a value we refuse to send (e.g. an id that is not a UUID)
    └── CodeOceanError               anything that went wrong talking to Code Ocean
        ├── TransportError           no usable HTTP response
        │   ├── ConnectError         could not connect (nothing reached the server)
        │   └── RequestTimeoutError  connect/read/write/pool timeout (the request may have arrived)
        ├── InvalidResponseError     a 2xx whose body is not what the contract says
        ├── CreateOutcomeUnknownError a create that may or may not have happened (never retried blindly)
        ├── WriteOutcomeUnknownError any other change whose failure does not say whether it was applied
        ├── WaitTimeoutError         an asset did not settle within the wait deadline
        └── APIStatusError           Code Ocean answered 4xx/5xx; carries status and Code Ocean's message
            ├── BadRequestError      400
            ├── AuthenticationError  401: token missing, wrong or expired
            ├── PermissionDeniedError 403: token lacks the scope, or the user lacks the role
            ├── NotFoundError        404
            ├── ConflictError        409 and 423 (locked): e.g. the asset is still being created
            ├── RateLimitedError     429, after retries ran out
            └── ServerError          5xx, after retries ran out

Messages name what failed and what to try; none contains the token, a Basic header or raw HTML
(an HTML error page is reduced to its status line). ``APIStatusError.message`` is Code Ocean's own
``{"message": ...}`` text, trimmed. ``explain(exc)`` at the end turns any of them into the sentence a model
reads: what failed, why, and what to try next.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from co_mcp.text import quoted, snippet

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "APIStatusError",
    "AuditLogError",
    "AuthenticationError",
    "BadRequestError",
    "CoMcpError",
    "CodeOceanError",
    "ConfigurationError",
    "ConflictError",
    "ConnectError",
    "CreateOutcomeUnknownError",
    "InvalidArgumentError",
    "InvalidResponseError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ServerError",
    "TransportError",
    "WaitTimeoutError",
    "WriteOutcomeUnknownError",
    "error_for_status",
    "explain",
    "outcome_unknown",
]

# Code Ocean's messages are short; a long one is almost always a page we should not echo.
_MAX_MESSAGE = 500
_TAG = re.compile(r"<[^>]+>")


class CoMcpError(Exception):
    """Root of every error co_mcp raises on purpose."""


class ConfigurationError(CoMcpError):
    """Settings are missing or invalid."""


class AuditLogError(CoMcpError):
    """The audit log could not take a record. ``reason`` is the operating system's words, without the path."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"the audit log cannot be written ({reason})")

    def unrecorded(self) -> str:
        """Said of a change that was sent, whose outcome line this error kept out of the log."""
        return f"the audit log could not record this outcome ({self.reason}); it stands as reported: do not repeat it"


class InvalidArgumentError(CoMcpError, ValueError):
    """A value we refuse to send to Code Ocean; nothing was sent."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class CodeOceanError(CoMcpError):
    """Something went wrong talking to Code Ocean.

    ``method`` and ``path`` say which request (path relative to the API root, never a full URL with
    credentials); either may be empty when the error concerns several requests.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        self.method = method
        self.path = path
        super().__init__(message)


class TransportError(CodeOceanError):
    """No usable HTTP response arrived.

    ``may_have_reached_server`` is False only when the request provably never left (no connection):
    the one case where even a create may be sent again.
    """

    def __init__(self, message: str, *, method: str = "", path: str = "", may_have_reached_server: bool = True) -> None:
        self.may_have_reached_server = may_have_reached_server
        super().__init__(message, method=method, path=path)


class ConnectError(TransportError):
    """Could not connect; the request did not reach Code Ocean."""

    def __init__(self, message: str, *, method: str = "", path: str = "") -> None:
        super().__init__(message, method=method, path=path, may_have_reached_server=False)


class RequestTimeoutError(TransportError):
    """A connect, read, write or pool timeout; a request may have reached Code Ocean."""


class InvalidResponseError(CodeOceanError):
    """Code Ocean answered 2xx with a body that does not match the contract."""


class CreateOutcomeUnknownError(CodeOceanError):
    """A create request may or may not have created the asset, and reconciliation could not tell.

    ``nonce_tag`` is the tag the client put on the asset it asked for: searching ``tag:<nonce_tag>``
    finds it if it exists.
    """

    def __init__(self, message: str, *, nonce_tag: str) -> None:
        self.nonce_tag = nonce_tag
        super().__init__(message, method="POST", path="data_assets")


class WriteOutcomeUnknownError(CodeOceanError):
    """An update, archive, permissions change, delete or transfer failed without saying whether it was applied.

    A 5xx, or a connection lost after the request was sent: Code Ocean may have made the change and then
    failed to answer. Reporting that as a plain failure would be a lie half the time, so the message says
    the outcome is unknown and how to check. ``reason`` is the last failure (``"HTTP 500"``,
    ``"ReadTimeout"``), ``attempts`` how many times the request was sent.
    """

    def __init__(self, message: str, *, method: str, path: str, reason: str, attempts: int) -> None:
        self.reason = reason
        self.attempts = attempts
        super().__init__(message, method=method, path=path)


class WaitTimeoutError(CodeOceanError):
    """A data asset was still in draft when the wait deadline passed."""

    def __init__(self, message: str, *, data_asset_id: str, last_state: str) -> None:
        self.data_asset_id = data_asset_id
        self.last_state = last_state
        super().__init__(message, method="GET", path=f"data_assets/{data_asset_id}")


class APIStatusError(CodeOceanError):
    """Code Ocean answered with a 4xx or 5xx status."""

    def __init__(self, status_code: int, message: str, *, method: str, path: str) -> None:
        self.status_code = status_code
        self.message = message
        super().__init__(f"{method} {path} failed with HTTP {status_code}: {message}", method=method, path=path)


class BadRequestError(APIStatusError):
    """400: a parameter is missing or badly formatted."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, wrong or expired."""


class PermissionDeniedError(APIStatusError):
    """403: the token lacks the scope, or the user lacks the role, for this action."""


class NotFoundError(APIStatusError):
    """404: no such object, or not visible to this user."""


class ConflictError(APIStatusError):
    """409 or 423: the object's state forbids the action now (e.g. still being created, or locked)."""


class RateLimitedError(APIStatusError):
    """429 after the retry budget ran out."""

    def __init__(self, status_code: int, message: str, *, method: str, path: str, retry_after: float | None) -> None:
        self.retry_after = retry_after
        super().__init__(status_code, message, method=method, path=path)


class ServerError(APIStatusError):
    """5xx after the retry budget ran out."""


_BY_STATUS: Mapping[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    423: ConflictError,
}


def outcome_unknown(exc: BaseException) -> bool:
    """True for failures after which a write may or may not have happened."""
    return isinstance(exc, CreateOutcomeUnknownError | WriteOutcomeUnknownError)


def clean_message(raw: str, status_code: int) -> str:
    """Reduce a response body's message to one short, plain line (HTML pages become nothing)."""
    text = raw.strip()
    if _TAG.search(text):
        # An HTML error page (proxy, load balancer): its markup helps nobody and may echo request data.
        return f"HTTP {status_code} (the server returned an HTML page instead of an API error)"
    # Messages may echo other people's text (names, keys): invisible characters go, as everywhere.
    text = snippet(text, _MAX_MESSAGE)
    return text or f"HTTP {status_code} with no message"


def error_for_status(
    status_code: int, message: str, *, method: str, path: str, retry_after: float | None = None
) -> APIStatusError:
    """Build the typed error for a 4xx/5xx response."""
    if status_code == 429:
        return RateLimitedError(status_code, message, method=method, path=path, retry_after=retry_after)
    if status_code >= 500:
        return ServerError(status_code, message, method=method, path=path)
    return _BY_STATUS.get(status_code, APIStatusError)(status_code, message, method=method, path=path)


# --- what a model reads -------------------------------------------------------------------------

_ASSET_PATH = re.compile(r"data_assets/([0-9a-f-]{36})")


def _asset_id(exc: CodeOceanError) -> str | None:
    match = _ASSET_PATH.search(exc.path)
    return match.group(1) if match else None


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _bare(message: str) -> str:
    """Code Ocean's message without its closing period; it is then quoted, as text from outside."""
    return message.rstrip(" .")


def explain(exc: BaseException) -> str:
    """What failed, why, and what to try next, in words a model can act on. Never the token or HTML."""
    if isinstance(exc, InvalidArgumentError):
        return f"Invalid argument {exc}. Nothing was sent to Code Ocean."
    if isinstance(exc, CreateOutcomeUnknownError | WaitTimeoutError):
        return str(exc)
    if isinstance(exc, NotFoundError):
        asset_id = _asset_id(exc)
        within = exc.path.split(asset_id, 1)[1] if asset_id else ""
        if asset_id and not within.startswith("/files"):
            # The asset itself, or one of its parts that has no path of its own (permissions, archive, transfer).
            return (
                f"No data asset {asset_id} is visible to your Code Ocean access token: it may not exist, may have "
                "been deleted, or is not shared with you. search_data_assets finds assets by name."
            )
        said = quoted(_bare(exc.message))
        if asset_id:
            return f"Not found: {said}. Check the id and the path; list_data_asset_files shows what exists."
        return f"Not found: {said}. Check the ids given; search_data_assets finds data assets by name."
    if isinstance(exc, AuthenticationError):
        return (
            "Code Ocean rejected the access token (401). The server's CODEOCEAN_TOKEN must be fixed by the user; "
            "retrying will not help."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"Not allowed (403): {quoted(_bare(exc.message))}. The token may be read-only (writes need the Datasets "
            "read & write scope), or the user lacks the owner or editor role on this asset."
        )
    if isinstance(exc, ConflictError):
        # The state is not known here (draft, failed, locked, used by pipelines...): words right for any of them.
        return (
            f"Conflict ({exc.status_code}): {quoted(_bare(exc.message))}. The current state of what this concerns "
            "does not allow it; get_data_asset shows an asset's state. Only an asset still in draft is worth "
            "waiting for (wait_for_data_asset); a failed one stays failed."
        )
    if isinstance(exc, BadRequestError):
        return f"Code Ocean rejected the request (400): {quoted(_bare(exc.message))}. Correct that argument and retry."
    if isinstance(exc, RateLimitedError):
        return "Code Ocean is rate limiting requests (429) and retries ran out. Wait a minute before trying again."
    if isinstance(exc, ServerError):
        said = quoted(_bare(exc.message))
        if exc.method in _WRITES and not exc.path.endswith("/search"):
            return (
                f"Code Ocean failed (HTTP {exc.status_code}): {said}. The change may or may not have happened: "
                "check with get_data_asset before trying again."
            )
        return f"Code Ocean failed (HTTP {exc.status_code}) even after retries: {said}. Try again later."
    if isinstance(exc, APIStatusError):
        return f"Code Ocean answered HTTP {exc.status_code}: {quoted(_bare(exc.message))}."
    if isinstance(exc, TransportError):
        return f"Could not reach Code Ocean: {exc}. Retries ran out; check the network or try again later."
    if isinstance(exc, InvalidResponseError):
        return f"Code Ocean sent an unexpected response: {exc}. The server may be a version co_mcp does not know."
    if isinstance(exc, AuditLogError):
        return (
            f"Nothing was sent to Code Ocean: {exc}, and co_mcp records every change before making it. The "
            "server's operator must fix the audit log (CO_MCP_AUDIT_LOG); retrying will not help until then."
        )
    if isinstance(exc, CoMcpError):
        return str(exc)
    return "Internal error in co_mcp; it has been logged. Try again, or report it if it persists."
