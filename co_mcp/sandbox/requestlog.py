"""What the sandbox was asked and how it answered: method, path, query, status, operation, commit.

Bodies and headers are never recorded: tokens, GCS client secrets and the like pass through them.
The log keeps the newest ``max_entries`` (50,000 by default): a sandbox serving for days,
or the one embedded in ``co-mcp --sandbox``, must not grow by every request it ever answered.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from co_mcp.sandbox.app import COMMIT_MARK
from co_mcp.sandbox.faults import operation_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_ENTRIES", "LoggedRequest", "RequestLog"]

DEFAULT_MAX_ENTRIES = 50_000


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One HTTP request. ``status`` is None if no response started (e.g. a dropped connection)."""

    method: str
    path: str
    query: str
    status: int | None
    operation: str | None
    # True once the API changed the store, even if what the client saw afterwards was an error.
    committed: bool
    at: float
    # The e-mail of the user whose token authenticated the request; None if none did.
    user: str | None = None


class RequestLog:
    """ASGI middleware (the outermost layer) that records every HTTP request; thread-safe to read."""

    def __init__(
        self, app: ASGIApp, *, clock: Callable[[], float] = time.time, max_entries: int | None = DEFAULT_MAX_ENTRIES
    ) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError(f"max_entries must be 1 or more (or None for no limit), not {max_entries}")
        self.app = app
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[LoggedRequest] = deque(maxlen=max_entries)
        self._dropped = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        mark: dict[str, Any] = {"committed": False}
        scope[COMMIT_MARK] = mark
        status: int | None = None
        recorded = False
        at = self._clock()

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            entry = LoggedRequest(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                status=status,
                operation=operation_for(scope["method"], scope["path"]),
                committed=bool(mark["committed"]),
                at=at,
                user=mark.get("user"),
            )
            with self._lock:
                if len(self._entries) == self._entries.maxlen:
                    self._dropped += 1  # the oldest entry makes room
                self._entries.append(entry)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Before the last byte leaves: over a real socket the client may read the log as soon as
                # it has the response, while the app (in the server's thread) has not returned yet.
                record()
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            record()  # no complete response (a dropped connection, an error): recorded as it ended

    @property
    def entries(self) -> list[LoggedRequest]:
        """A copy of the entries, oldest first."""
        with self._lock:
            return list(self._entries)

    @property
    def dropped(self) -> int:
        """How many of the oldest entries were let go to stay within ``max_entries``."""
        with self._lock:
            return self._dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._dropped = 0

    def matching(
        self,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        committed: bool | None = None,
    ) -> list[LoggedRequest]:
        """Entries that match every criterion given."""
        return [
            entry
            for entry in self.entries
            if (method is None or entry.method == method.upper())
            and (path_prefix is None or entry.path.startswith(path_prefix))
            and (operation is None or entry.operation == operation)
            and (status is None or entry.status == status)
            and (committed is None or entry.committed == committed)
        ]

    def count(
        self,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        committed: bool | None = None,
    ) -> int:
        """How many entries match every criterion given."""
        return len(
            self.matching(
                method=method, path_prefix=path_prefix, operation=operation, status=status, committed=committed
            )
        )

    @property
    def last(self) -> LoggedRequest | None:
        with self._lock:
            return self._entries[-1] if self._entries else None
