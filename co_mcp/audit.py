"""The audit log: one JSON line per write, on disk (fsynced) before the tool reports success.

Each record: time, tool, data asset ids, arguments (secrets redacted), the preview fingerprint of a
guarded action, outcome, Code Ocean's HTTP status and message, and for a delete the asset's full
metadata as read just before, so the record of what was deleted outlives it. ``-`` as the path sends
lines to stderr (for deployments that collect logs); the default file lives in the user's state
directory.

One record is one physical line whatever reads it: JSON already escapes every control character, and the
three line breaks it leaves raw (U+0085, U+2028, U+2029, which ``str.splitlines`` and many log tools split
on) are escaped too. A write that cannot be made durable raises :class:`AuditLogError`; callers send
nothing to Code Ocean after it.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import Any

import anyio.to_thread

from co_mcp.errors import AuditLogError, ConfigurationError

__all__ = ["AuditLog", "AuditLogError", "default_audit_path", "redact"]

log = logging.getLogger("co_mcp.audit")

# Keys whose values are credentials or capabilities; they never reach the log.
SECRET_KEYS = frozenset({"confirm_token", "client_secret", "client_id", "token", "password", "secret", "authorization"})
REDACTED = "[redacted]"

# The line breaks JSON leaves unescaped (it escapes everything below U+0020); each would split a record.
_RAW_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return "its output is closed" if isinstance(exc, ValueError) else "an unexpected error"


def default_audit_path(*, sandbox: bool = False) -> Path:
    """The user's audit file; the sandbox's own writes (demos, trials) go to a separate one."""
    from platformdirs import user_state_path

    return user_state_path("co-mcp", appauthor=False) / ("sandbox-audit.jsonl" if sandbox else "audit.jsonl")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-named key's value replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if str(k).lower() in SECRET_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class AuditLog:
    """Append-only JSON lines. Thread-safe; ``write`` returns once the line is durable."""

    def __init__(self, path: str | Path | None, *, domain: str | None = None) -> None:
        # Every record names the deployment it concerns: one file may outlive several configurations.
        self.domain = domain
        # Team mode: the person (issuer, subject) a copy made by acting_for writes for.
        self.issuer: str | None = None
        self.subject: str | None = None
        self._lock = threading.Lock()
        self.path: Path | None
        if path is None or str(path) == "-":
            self.path = None
        else:
            self.path = Path(path).expanduser()
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                # At start-up: better no server than one that refuses every write.
                # Its path is not repeated: a setting's value may be a secret pasted into the wrong variable.
                raise ConfigurationError(f"CO_MCP_AUDIT_LOG: its folder cannot be created ({_reason(exc)})") from None

    def acting_for(self, issuer: str, subject: str) -> AuditLog:
        """The same log (same file, same lock), each line naming the person it acts for."""
        bound = copy.copy(self)
        bound.issuer, bound.subject = issuer, subject
        return bound

    def _append(self, line: bytes) -> None:
        try:
            self._append_durably(line)
        except (OSError, ValueError) as exc:  # ValueError: stderr closed
            raise AuditLogError(_reason(exc)) from exc

    def _append_durably(self, line: bytes) -> None:
        with self._lock:
            if self.path is None:
                sys.stderr.buffer.write(line)
                sys.stderr.flush()
                return
            # O_APPEND: concurrent writers (several server processes) never interleave within a line.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    async def write(
        self,
        tool: str,
        *,
        outcome: str,
        data_asset_ids: list[str],
        arguments: dict[str, Any],
        status: int | None = None,
        message: str | None = None,
        fingerprint: str | None = None,
        deleted: dict[str, Any] | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "tool": tool,
            "outcome": outcome,
            "domain": self.domain,
            "subject": self.subject,
            "issuer": self.issuer,
            "data_asset_ids": data_asset_ids,
            "arguments": redact(arguments),
        }
        optional = {"status": status, "message": message, "fingerprint": fingerprint, "deleted": deleted}
        record.update({k: v for k, v in optional.items() if v is not None})
        for key in ("domain", "subject", "issuer"):
            if record[key] is None:
                del record[key]
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str).translate(_RAW_BREAKS)
        # A lone surrogate (valid in a JSON string a client sent) is written as its \u escape, still valid JSON.
        line = (text + "\n").encode("utf-8", "backslashreplace")
        # fsync blocks; keep it off the event loop so other calls keep flowing.
        try:
            await anyio.to_thread.run_sync(self._append, line)
        except AuditLogError as exc:
            # The path is for the operator's log, never for the client: the error it gets (explain) names none.
            where = self.path or "stderr"
            with contextlib.suppress(OSError, ValueError):  # stderr itself may be what failed
                log.error("audit log %s: cannot write the %s line of %s: %s", where, outcome, tool, exc.reason)
            raise

    def read(self) -> list[dict[str, Any]]:
        """Every record so far (for tests and tooling); records are separated by ``\\n`` and nothing else."""
        if self.path is None or not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").split("\n") if line.strip()]
