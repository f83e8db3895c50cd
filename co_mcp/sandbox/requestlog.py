"""What the sandbox was asked and how it answered: method, path, query, status, operation, commit.

Bodies and headers are never recorded: tokens, GCS client secrets and the like pass through them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from co_mcp.sandbox.app import COMMIT_MARK
from co_mcp.sandbox.faults import operation_for

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LoggedRequest", "RequestLog"]


@dataclass(frozen=True)
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


class RequestLog:
    """ASGI middleware (the outermost layer) that records every HTTP request; thread-safe to read."""

    def __init__(self, app: ASGIApp, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: list[LoggedRequest] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        mark = {"committed": False}
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
            )
            with self._lock:
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

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

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
