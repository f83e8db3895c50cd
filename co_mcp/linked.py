"""Team mode's linked Code Ocean tokens: one per person, encrypted at rest.

In team mode each person, known by their access token's issuer and subject (``sub``), acts on Code Ocean
with their own Code Ocean access token, which an administrator links once (``co-mcp credentials link``).
The tokens live in the deployment's state database (the one :mod:`co_mcp.store` keeps used confirmations
in: ``state.sqlite3`` in the state directory, or ``CO_MCP_STATE_URL``), in the table ``co_mcp_linked_tokens``.

Each token is sealed with AES-256-GCM (``cryptography``'s AESGCM: authenticated encryption) under
``CO_MCP_CREDENTIAL_KEY``, with a fresh random 96-bit nonce per write. The associated data is the row's
issuer and subject, so a sealed token copied to another person's row does not open. Each row also keeps
the key's id (a short digest of the key, not the key), so a row sealed under another key is reported as
such instead of failing as a damaged row. ``CO_MCP_CREDENTIAL_KEY`` may list several keys, comma-separated:
the first seals, every one opens (rotation: put the new key first, link again, then drop the old one).

Nothing here returns a token except :meth:`LinkedTokens.token_for`, and then in a SecretStr.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from pydantic import SecretStr

from co_mcp.errors import CoMcpError, ConfigurationError, InvalidArgumentError
from co_mcp.store import Database, state_location

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from sqlalchemy import Engine, Executable, MetaData, Table

    from co_mcp.config import Settings

__all__ = [
    "TABLE",
    "CredentialKey",
    "Linked",
    "LinkedTokenError",
    "LinkedTokens",
    "linked_tokens_from_settings",
]

TABLE = "co_mcp_linked_tokens"
PURPOSE = "the linked Code Ocean tokens"
KEY_BYTES = 32
NONCE_BYTES = 12  # the size AES-GCM is made for; random per write
MAX_ISSUER = 2000
MAX_SUBJECT = 255  # OpenID Connect: a sub is at most 255 ASCII characters
MAX_LABEL = 200
MAX_TOKEN = 4096
_KEY_TEXT = re.compile(r"[A-Za-z0-9_-]{43}=?")
_KEY_ID_LENGTH = 16
NEW_KEY_HINT = "`co-mcp credentials new-key` makes one"


class LinkedTokenError(CoMcpError):
    """A linked token exists but cannot be opened: sealed under another key, or its row was altered or moved."""


class CredentialKey:
    """The key(s) of ``CO_MCP_CREDENTIAL_KEY``: the first seals, every one opens. Never shown in a repr."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys or any(len(key) != KEY_BYTES for key in keys):
            raise ConfigurationError(f"CO_MCP_CREDENTIAL_KEY must hold {KEY_BYTES}-byte keys; {NEW_KEY_HINT}")
        self._keys = {_key_id(key): key for key in reversed(keys)}  # the first wins a (harmless) duplicate
        self.key_id = _key_id(keys[0])

    @classmethod
    def parse(cls, text: str | SecretStr) -> CredentialKey:
        """``CO_MCP_CREDENTIAL_KEY``'s value: urlsafe base64 of 32 random bytes, or several, comma-separated."""
        value = text.get_secret_value() if isinstance(text, SecretStr) else text
        parts = [part.strip() for part in value.split(",")]
        keys = []
        for position, part in enumerate(parts, start=1):
            which = f"key {position} of {len(parts)} in " if len(parts) > 1 else ""
            # The value is never repeated: it is a secret, or one pasted in the wrong place.
            if not _KEY_TEXT.fullmatch(part):
                raise ConfigurationError(
                    f"{which}CO_MCP_CREDENTIAL_KEY is not a key (the urlsafe base64 of {KEY_BYTES} random bytes, "
                    f"44 characters); {NEW_KEY_HINT}"
                )
            keys.append(base64.urlsafe_b64decode(part.rstrip("=") + "="))
        return cls(keys)

    @staticmethod
    def generate() -> str:
        """A fresh key, as ``CO_MCP_CREDENTIAL_KEY`` takes it."""
        return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii")

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal(self, plaintext: bytes, context: bytes) -> tuple[str, bytes]:
        """The first key's id, and nonce + ciphertext (with its tag) of ``plaintext`` bound to ``context``."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(NONCE_BYTES)
        return self.key_id, nonce + AESGCM(self._keys[self.key_id]).encrypt(nonce, plaintext, context)

    def open(self, key_id: str, sealed: bytes, context: bytes) -> bytes | None:
        """The plaintext; None if no key of ours has this id. Raises InvalidTag for an altered or moved row."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        key = self._keys.get(key_id)
        if key is None:
            return None
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context)

    def __repr__(self) -> str:
        return f"CredentialKey(key_id={self.key_id!r}, keys={len(self._keys)})"


def _key_id(key: bytes) -> str:
    # A digest of 256 random bits names the key without revealing anything usable about it.
    return hashlib.sha256(b"co-mcp credential key id\0" + key).hexdigest()[:_KEY_ID_LENGTH]


def _context(issuer: str, subject: str) -> bytes:
    """The associated data: the sealed token opens only in the row of this issuer and subject."""
    return json.dumps(["co-mcp linked token v1", issuer, subject], separators=(",", ":")).encode()


@dataclass(frozen=True)
class Linked:
    """Who has a linked token (never the token): issuer, subject, an optional label, and when it was linked."""

    issuer: str
    subject: str
    label: str | None
    linked_at: dt.datetime


def _linked_tokens(metadata: MetaData) -> Table:
    from sqlalchemy import Column, Double, LargeBinary, String, Table

    return Table(
        TABLE,
        metadata,
        Column("issuer", String(MAX_ISSUER), primary_key=True),
        Column("subject", String(MAX_SUBJECT), primary_key=True),
        Column("key_id", String(_KEY_ID_LENGTH), nullable=False),
        Column("sealed", LargeBinary, nullable=False),
        Column("label", String(MAX_LABEL), nullable=True),
        Column("linked_at", Double, nullable=False),
    )


def _upsert(engine: Engine, table: Table, keys: dict[str, str], values: dict[str, Any]) -> Executable:
    """INSERT, or UPDATE the row of ``keys`` if there is one: ON CONFLICT, which SQLite and PostgreSQL share."""
    index = [table.c[name] for name in keys]
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return (
            postgresql_insert(table).values(**keys, **values).on_conflict_do_update(index_elements=index, set_=values)
        )
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(**keys, **values).on_conflict_do_update(index_elements=index, set_=values)


def _check_person(issuer: str, subject: str) -> None:
    for name, value, limit in (("issuer", issuer, MAX_ISSUER), ("subject", subject, MAX_SUBJECT)):
        if not value.strip() or len(value) > limit or not value.isprintable():
            raise InvalidArgumentError(name, f"must be 1 to {limit} printable characters")


class LinkedTokens:
    """The linked Code Ocean tokens of a deployment, in SQLite or PostgreSQL; safe for threads and processes.

    ``url=None`` without ``sqlite_path`` is a private in-memory database (tests, one process).
    """

    def __init__(self, url: str | None = None, *, sqlite_path: Path | None = None, key: CredentialKey) -> None:
        self._db = Database(url, sqlite_path=sqlite_path)
        self._key = key

    @classmethod
    def sqlite(cls, path: Path, key: CredentialKey) -> LinkedTokens:
        return cls(sqlite_path=path, key=key)

    def describe(self) -> str:
        """Where the table lives, for logs and the doctor; a URL's password is masked."""
        return self._db.describe()

    # --- async API: each call runs its statements in a worker thread ---

    async def link(self, issuer: str, subject: str, token: SecretStr, *, label: str | None = None) -> None:
        """Store ``token`` for this person, replacing any token linked before."""
        _check_person(issuer, subject)
        value = token.get_secret_value().strip()
        if not value or len(value) > MAX_TOKEN or not value.isprintable():
            raise InvalidArgumentError("token", f"must be a Code Ocean access token (1 to {MAX_TOKEN} characters)")
        if label is not None and (len(label) > MAX_LABEL or not label.isprintable()):
            raise InvalidArgumentError("label", f"must be at most {MAX_LABEL} printable characters")
        key_id, sealed = self._key.seal(value.encode(), _context(issuer, subject))
        await anyio.to_thread.run_sync(self._link, issuer, subject, key_id, sealed, label or None)

    async def unlink(self, issuer: str, subject: str) -> bool:
        """Forget this person's token; whether there was one."""
        return await anyio.to_thread.run_sync(self._unlink, issuer, subject)

    async def token_for(self, issuer: str, subject: str) -> SecretStr | None:
        """This person's token, or None if none is linked; LinkedTokenError if it cannot be opened."""
        row = await anyio.to_thread.run_sync(self._row, issuer, subject)
        if row is None:
            return None
        key_id, sealed = row
        from cryptography.exceptions import InvalidTag

        try:
            plaintext = self._key.open(key_id, sealed, _context(issuer, subject))
        except InvalidTag:
            raise LinkedTokenError(
                "the linked Code Ocean token of this person cannot be decrypted: its row was altered or belongs to "
                "someone else; link again"
            ) from None
        if plaintext is None:
            raise LinkedTokenError(
                "the Code Ocean token was linked under a different CO_MCP_CREDENTIAL_KEY; link again"
            )
        return SecretStr(plaintext.decode())

    async def linked(self, issuer: str | None = None) -> list[Linked]:
        """Who has a token linked (of one issuer, or all), ordered by issuer and subject; never the tokens."""
        return await anyio.to_thread.run_sync(self._linked, issuer, False)

    async def under_other_keys(self, issuer: str | None = None) -> list[Linked]:
        """Who has a token linked under a key ``CO_MCP_CREDENTIAL_KEY`` no longer holds: they must link again."""
        return await anyio.to_thread.run_sync(self._linked, issuer, True)

    def close(self) -> None:
        self._db.close()

    # --- blocking work ---

    def _link(self, issuer: str, subject: str, key_id: str, sealed: bytes, label: str | None) -> None:
        engine, table = self._ready()
        values = {"key_id": key_id, "sealed": sealed, "label": label, "linked_at": time.time()}
        try:
            # One statement: of two links at once, the last to commit wins, and neither fails.
            upsert = _upsert(engine, table, {"issuer": issuer, "subject": subject}, values)
            with self._db.turn(), engine.begin() as conn:
                conn.execute(upsert)
        except Exception as exc:
            raise self._db.failure(PURPOSE, "link", exc) from None

    def _unlink(self, issuer: str, subject: str) -> bool:
        engine, table = self._ready()
        try:
            with self._db.turn(), engine.begin() as conn:
                done = conn.execute(table.delete().where(table.c.issuer == issuer, table.c.subject == subject))
        except Exception as exc:
            raise self._db.failure(PURPOSE, "unlink", exc) from None
        return bool(done.rowcount)

    def _row(self, issuer: str, subject: str) -> tuple[str, bytes] | None:
        engine, table = self._ready()
        try:
            with self._db.turn(), engine.connect() as conn:
                row = conn.execute(
                    table.select()
                    .with_only_columns(table.c.key_id, table.c.sealed)
                    .where(table.c.issuer == issuer, table.c.subject == subject)
                ).first()
        except Exception as exc:
            raise self._db.failure(PURPOSE, "look-up", exc) from None
        return None if row is None else (str(row.key_id), bytes(row.sealed))

    def _linked(self, issuer: str | None, unopenable: bool) -> list[Linked]:
        engine, table = self._ready()
        query = table.select().with_only_columns(table.c.issuer, table.c.subject, table.c.label, table.c.linked_at)
        if issuer is not None:
            query = query.where(table.c.issuer == issuer)
        if unopenable:
            query = query.where(table.c.key_id.not_in(sorted(self._key.key_ids)))
        try:
            with self._db.turn(), engine.connect() as conn:
                rows = conn.execute(query.order_by(table.c.issuer, table.c.subject)).all()
        except Exception as exc:
            raise self._db.failure(PURPOSE, "list", exc) from None
        return [
            Linked(
                issuer=row.issuer,
                subject=row.subject,
                label=row.label,
                linked_at=dt.datetime.fromtimestamp(float(row.linked_at), dt.UTC),
            )
            for row in rows
        ]

    def _ready(self) -> tuple[Engine, Table]:
        return self._db.ready(_linked_tokens, PURPOSE)


def credential_key_from_settings(settings: Settings) -> CredentialKey:
    """``CO_MCP_CREDENTIAL_KEY``, parsed; a ConfigurationError naming it (and how to make one) when unset."""
    if settings.credential_key is None or not settings.credential_key.get_secret_value().strip():
        raise ConfigurationError(
            "CO_MCP_CREDENTIAL_KEY is not set: team mode keeps each person's Code Ocean token encrypted under it; "
            f"{NEW_KEY_HINT}, and every co-mcp process of the deployment needs the same one"
        )
    return CredentialKey.parse(settings.credential_key)


def linked_tokens_from_settings(settings: Settings, *, sandbox: bool = False) -> LinkedTokens:
    """The deployment's linked tokens: in the state database (``CO_MCP_STATE_URL`` or ``state.sqlite3``)."""
    key = credential_key_from_settings(settings)
    where = state_location(settings, sandbox=sandbox)
    return LinkedTokens(where.url, sqlite_path=where.sqlite_path, key=key)
