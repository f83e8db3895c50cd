"""State every co-mcp process of a deployment shares: the confirm secret and the record of used confirmations.

*The confirm secret* signs confirm tokens and seals elicitation request state. Without
``CO_MCP_CONFIRM_SECRET``, co-mcp makes one the first time it needs it and keeps it in the state
directory (``confirm-secret``, mode 0600), so a token from one process is accepted by the next: a host
that restarts its stdio server, or a client that starts a process per call, does not lose the user's yes.

*Used confirmations* make each confirmation act at most once. Tokens are stateless, so concurrent calls
with one token would all pass the signature check; before acting, a call *claims* the confirmation by
inserting a digest of it under a primary key, and only the call whose insert succeeds acts. The others,
and any replay, find the row: when it was used and what it did. The table lives in a database every
process of the deployment reaches: by default an SQLite file in the state directory (WAL, busy timeout:
several processes on one machine), or the server ``CO_MCP_STATE_URL`` names (PostgreSQL, for several
machines). SQLAlchemy Core runs the same statements on both; it is imported on the first confirmation,
not at start-up, and every statement runs in a worker thread, off the event loop. Rows outlive the
confirmation they record by a margin for clock skew, then are pruned.

Nothing here stores a token or request state in clear: the key is a SHA-256 digest of it.

*The database* (:class:`Database`) is shared with the other stores of a deployment (the linked Code Ocean
tokens of team mode, ``co_mcp/linked.py``), each in its own table; :func:`state_location` is the one place
that decides which database a deployment uses.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import stat
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import anyio.to_thread

from co_mcp.errors import CoMcpError, ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from sqlalchemy import Engine, MetaData, Table

    from co_mcp.config import Settings

__all__ = [
    "ConfirmationStore",
    "Database",
    "Location",
    "StoreError",
    "Used",
    "confirmation_key",
    "load_or_create_secret",
    "state_directory",
    "state_files",
    "state_location",
]

log = logging.getLogger("co_mcp.store")

SECRET_FILE = "confirm-secret"  # noqa: S105 - a file name, not a secret
STATE_FILE = "state.sqlite3"
# A row is kept this long past its confirmation's own expiry: replicas' clocks may disagree a little.
CLOCK_SKEW = 300.0
# Expired rows are deleted at most this often per process, on the way to a claim.
PRUNE_EVERY = 60.0
# How long a reader waits for a secret file another process is writing this very moment.
SECRET_WAIT = 2.0
SQLITE_BUSY_TIMEOUT = 30.0
TABLE = "co_mcp_used_confirmations"
_HEX_SECRET = 64


class StoreError(CoMcpError):
    """The record of used confirmations cannot be read or written: nothing may act."""


def state_directory(configured: Path | None, *, sandbox: bool = False) -> Path:
    """``CO_MCP_STATE_DIR``, or the user's state directory, where the default audit log lives too."""
    from co_mcp.audit import default_audit_path

    return configured.expanduser() if configured is not None else default_audit_path(sandbox=sandbox).parent


def state_files(state_dir: Path, *, sandbox: bool = False) -> tuple[Path, Path]:
    """The confirm secret and the SQLite store in ``state_dir``; the sandbox keeps its own, as its audit log does."""
    prefix = "sandbox-" if sandbox else ""
    return state_dir / f"{prefix}{SECRET_FILE}", state_dir / f"{prefix}{STATE_FILE}"


# --- the confirm secret ----------------------------------------------------------------------------------


def load_or_create_secret(path: Path, *, wait: float = SECRET_WAIT) -> bytes:
    """The secret kept in ``path``, made now (32 random bytes, mode 0600) if there is none.

    Created with O_EXCL, so of two processes starting at once exactly one writes it and both then use
    what is on disk. A reader that finds the file still empty (its writer is between create and write)
    waits up to ``wait`` seconds for it.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path, wait)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("created the confirm secret %s", path)
    return _read_secret(path, wait)


def _read_secret(path: Path, wait: float) -> bytes:
    deadline = time.monotonic() + wait
    while True:
        text = path.read_text(encoding="ascii", errors="replace")
        value = text.strip()
        if text.endswith("\n") and len(value) == _HEX_SECRET and all(c in "0123456789abcdef" for c in value):
            break
        if time.monotonic() >= deadline:
            raise ConfigurationError(
                f"{path} does not hold a confirm secret ({_HEX_SECRET} hex digits and a newline): delete it and "
                "co-mcp makes a new one (tokens already issued stop working), or set CO_MCP_CONFIRM_SECRET"
            )
        time.sleep(0.02)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("the confirm secret %s can be read by other users (mode %o): chmod 600 it", path, mode)
    return value.encode()


# --- used confirmations ----------------------------------------------------------------------------------


def confirmation_key(kind: Literal["confirm_token", "request_state", "link_ticket"], credential: str) -> str:
    """The store's key for one confirmation: a digest, so the table never holds a usable credential."""
    return hashlib.sha256(f"co-mcp {kind}\0{credential.strip()}".encode()).hexdigest()


@dataclass(frozen=True)
class Used:
    """A confirmation some call already claimed: when, and what it did (None while it is still acting)."""

    at: float | None
    outcome: str | None

    def sentence(self) -> str:
        """One statement for the model: it happened, when, what it did, and that nothing was repeated."""
        when = (
            " at " + dt.datetime.fromtimestamp(self.at, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            if self.at is not None
            else ""
        )
        if self.outcome is None:
            return (
                f"This confirmation was already used{when} by another call, whose outcome is not recorded yet (it "
                "may still be running; the audit log has each attempt); nothing was done again."
            )
        return f"This confirmation was already used{when}: {self.outcome}; nothing was done again."


_MEMORY = "sqlite://"
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


def check_url(url: str) -> None:
    """Refuse at start-up a ``CO_MCP_STATE_URL`` no supported database reads (without echoing it: a password)."""
    scheme = urlsplit(url.strip()).scheme
    if not scheme or scheme.split("+")[0] not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            "CO_MCP_STATE_URL must be a database URL: postgresql://user:password@host:5432/dbname for several "
            f"machines, or sqlite:////path/to/state.sqlite3 (got a URL with scheme {scheme[:20]!r})"
        )


@dataclass(frozen=True)
class Location:
    """Which database a deployment's shared state lives in: a URL (``CO_MCP_STATE_URL``) or an SQLite file."""

    url: str | None = field(default=None, repr=False)  # may hold a password
    sqlite_path: Path | None = None


def state_location(settings: Settings, *, sandbox: bool = False) -> Location:
    """The one place that decides it: ``CO_MCP_STATE_URL`` if set, else ``state.sqlite3`` in the state directory."""
    if settings.state_url is not None:
        return Location(url=settings.state_url.get_secret_value())
    _, state_file = state_files(state_directory(settings.state_dir, sandbox=sandbox), sandbox=sandbox)
    return Location(sqlite_path=state_file)


class Database:
    """One database shared by co-mcp's stores: SQLite file, private in-memory SQLite, or a PostgreSQL URL.

    The engine is made on first use (this is where SQLAlchemy is imported); each store names the table it
    needs with :meth:`ready`, which creates it if absent. An SQLite file is made 0600 and put in WAL mode;
    the in-memory database has one connection, which its users take in turns (:meth:`turn`). Errors and
    :meth:`describe` never show a URL's password.
    """

    def __init__(self, url: str | None = None, *, sqlite_path: Path | None = None) -> None:
        if url is not None and sqlite_path is not None:
            raise ValueError("give a URL or an SQLite path, not both")
        if url is not None:
            check_url(url)
        self._url = url
        self._path = sqlite_path
        self._engine: Engine | None = None
        self._tables: dict[str, Table] = {}
        self._setup = threading.Lock()
        # One connection is all an in-memory database has: its users take turns.
        self._serial: threading.Lock | None = threading.Lock() if url is None and sqlite_path is None else None

    def describe(self) -> str:
        """Where the database is, for logs and the doctor; a URL's password is masked."""
        if self._path is not None:
            return str(self._path)
        if self._url is None:
            return "in memory (this process only)"
        parts = urlsplit(self._url)
        if parts.password is None:
            return self._url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()

    def turn(self) -> AbstractContextManager[Any]:
        """Held around each statement: the in-memory database's one connection, taken in turns."""
        return self._serial if self._serial is not None else nullcontext()

    def failure(self, purpose: str, what: str, exc: Exception) -> StoreError:
        """A StoreError for the caller; the driver's words go to the operator's log, the URL's password never."""
        detail = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300] if str(exc) else ""
        log.error("state store %s: %s failed: %s: %s", self.describe(), what, type(exc).__name__, detail)
        return StoreError(f"{purpose} ({what}) failed: {type(exc).__name__}")

    def ready(self, define: Callable[[MetaData], Table], purpose: str) -> tuple[Engine, Table]:
        """The engine, and the table ``define`` describes, created if absent; both made on first use."""
        with self._setup:
            try:
                if self._engine is None:
                    self._engine = self._connect()
                table = self._tables.get(purpose)
                if table is None:
                    from sqlalchemy import MetaData

                    table = define(MetaData())
                    self._create(self._engine, table)
                    self._tables[purpose] = table
            except StoreError:
                raise
            except Exception as exc:
                raise self.failure(purpose, "connect", exc) from None
            return self._engine, table

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._tables.clear()

    def _connect(self) -> Engine:
        from sqlalchemy import create_engine, event, make_url
        from sqlalchemy.pool import StaticPool

        if self._path is not None:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Made here, not by SQLite, so that it (and the -wal and -shm files SQLite gives its mode) is 0600.
            os.close(os.open(self._path, os.O_WRONLY | os.O_CREAT, 0o600))
            engine = create_engine(f"sqlite:///{self._path}", connect_args={"timeout": SQLITE_BUSY_TIMEOUT})

            @event.listens_for(engine, "connect")
            def _pragmas(connection: Any, _: Any) -> None:
                # WAL: readers never block the writer, several processes share the file. FULL: a claim is on
                # disk before the action it guards starts, so a power cut cannot forget it.
                cursor = connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=FULL")
                cursor.close()

            return engine
        if self._url is None:
            return create_engine(_MEMORY, poolclass=StaticPool, connect_args={"check_same_thread": False})
        url = make_url(self._url.strip())
        url = url.set(drivername=_DRIVERS.get(url.drivername, url.drivername))
        # pre_ping: a pooled connection the database server closed meanwhile is replaced, not an error.
        return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=8)

    def _create(self, engine: Engine, table: Table) -> None:
        from sqlalchemy.exc import DBAPIError
        from sqlalchemy.schema import CreateIndex, CreateTable

        for attempt in range(3):
            try:
                with self.turn(), engine.begin() as conn:
                    conn.execute(CreateTable(table, if_not_exists=True))
                    for index in table.indexes:
                        conn.execute(CreateIndex(index, if_not_exists=True))
                return
            except DBAPIError:
                # Two processes creating the table at the same moment: PostgreSQL may refuse the second
                # even with IF NOT EXISTS. Once the first committed, trying again finds it there.
                if attempt == 2:
                    raise
                time.sleep(0.05 * (attempt + 1))


PURPOSE = "the record of used confirmations"


def _used_confirmations(metadata: MetaData) -> Table:
    from sqlalchemy import Column, Double, String, Table, Text

    return Table(
        TABLE,
        metadata,
        Column("key", String(64), primary_key=True),
        Column("used_at", Double, nullable=False),
        Column("expires_at", Double, nullable=False, index=True),
        Column("outcome", Text, nullable=True),
    )


class ConfirmationStore:
    """The used-confirmation table, in SQLite or PostgreSQL; safe for threads and for processes.

    ``url=None`` is a private in-memory database: right for one process (tests, a library embedding
    co_mcp), and what ``ServerOptions()`` gets by default. ``from_settings`` picks the deployment's file
    or URL.
    """

    def __init__(self, url: str | None = None, *, sqlite_path: Path | None = None) -> None:
        self._db = Database(url, sqlite_path=sqlite_path)
        self._pruned = 0.0

    @classmethod
    def sqlite(cls, path: Path) -> ConfirmationStore:
        return cls(sqlite_path=path)

    @classmethod
    def from_settings(cls, settings: Settings, *, sandbox: bool = False) -> ConfirmationStore:
        """The deployment's store: ``CO_MCP_STATE_URL``, else ``state.sqlite3`` in the state directory."""
        where = state_location(settings, sandbox=sandbox)
        return cls(where.url, sqlite_path=where.sqlite_path)

    def describe(self) -> str:
        """Where the table lives, for logs and the doctor; a URL's password is masked."""
        return self._db.describe()

    # --- async API: each call runs its statements in a worker thread ---

    async def claim(self, key: str, *, keep_for: float) -> Used | None:
        """Record ``key`` as used now; None if this call is the first, else who was.

        Exactly one of any number of concurrent claims of one key, from any process sharing the
        database, gets None. ``keep_for`` is how long the confirmation could still be presented.
        """
        return await anyio.to_thread.run_sync(self._claim, key, keep_for)

    async def record(self, key: str, outcome: str) -> None:
        """Note what the claimed confirmation did, for whoever presents it again. Never raises: the
        action already happened, and a failure here must not turn it into a reported failure."""
        try:
            await anyio.to_thread.run_sync(self._record, key, outcome)
        except StoreError:
            log.exception("could not record the outcome of a used confirmation")

    async def lookup(self, key: str) -> Used | None:
        """Whether ``key`` was used, without claiming it."""
        return await anyio.to_thread.run_sync(self._lookup, key)

    def close(self) -> None:
        self._db.close()

    # --- blocking work ---

    def _claim(self, key: str, keep_for: float) -> Used | None:
        from sqlalchemy.exc import IntegrityError

        engine, table = self._ready()
        now = time.time()
        try:
            with self._db.turn():
                if now - self._pruned >= PRUNE_EVERY:
                    with engine.begin() as conn:
                        conn.execute(table.delete().where(table.c.expires_at < now))
                    self._pruned = now
                with engine.begin() as conn:
                    conn.execute(table.insert().values(key=key, used_at=now, expires_at=now + keep_for + CLOCK_SKEW))
        except IntegrityError:
            # The primary key is taken: another call, here or in another process, claimed it first.
            return self._lookup(key) or Used(at=None, outcome=None)
        except Exception as exc:
            raise self._db.failure(PURPOSE, "claim", exc) from None
        return None

    def _record(self, key: str, outcome: str) -> None:
        engine, table = self._ready()
        try:
            with self._db.turn(), engine.begin() as conn:
                conn.execute(table.update().where(table.c.key == key).values(outcome=outcome[:1000]))
        except Exception as exc:
            raise self._db.failure(PURPOSE, "record", exc) from None

    def _lookup(self, key: str) -> Used | None:
        engine, table = self._ready()
        try:
            with self._db.turn(), engine.connect() as conn:
                row = conn.execute(
                    table.select().with_only_columns(table.c.used_at, table.c.outcome).where(table.c.key == key)
                ).first()
        except Exception as exc:
            raise self._db.failure(PURPOSE, "lookup", exc) from None
        return None if row is None else Used(at=float(row.used_at), outcome=row.outcome)

    def _ready(self) -> tuple[Engine, Table]:
        return self._db.ready(_used_confirmations, PURPOSE)
