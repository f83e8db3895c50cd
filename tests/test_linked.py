"""Team mode's linked Code Ocean tokens: one per person, sealed at rest, in the deployment's state database.

Every behaviour runs on the three backends (in memory, an SQLite file, a real PostgreSQL server); what is
at rest is read back from the database itself, byte for byte, never through the store.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from co_mcp.config import Settings
from co_mcp.errors import ConfigurationError, InvalidArgumentError
from co_mcp.linked import (
    TABLE,
    CredentialKey,
    LinkedTokenError,
    LinkedTokens,
    credential_key_from_settings,
    linked_tokens_from_settings,
)
from co_mcp.store import ConfirmationStore, StoreError, state_location
from tests.test_config_examples import free_port

pytestmark = pytest.mark.anyio

ISSUER = "https://login.example.org/realms/lab"
KEY = CredentialKey.generate()


def token() -> SecretStr:
    # Distinct per test: the PostgreSQL database lives for the session.
    return SecretStr(f"cop_{uuid.uuid4().hex}")


def subject() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    if kind == "memory":
        return {}
    if kind == "sqlite":
        return {"sqlite_path": tmp_path / "state.sqlite3"}
    return {"url": request.getfixturevalue("postgres_url")}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """How to open the one database of this test: LinkedTokens(**backend, key=...)."""
    return _open(request.param, request, tmp_path)


@pytest.fixture(params=BACKENDS[1:])
def reachable(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    """A database other connections reach too (not the store's private in-memory one)."""
    return _open(request.param, request, tmp_path)


@pytest.fixture
def tokens(backend: dict[str, object]) -> Iterator[LinkedTokens]:
    made = LinkedTokens(**backend, key=CredentialKey.parse(KEY))  # type: ignore[arg-type]
    yield made
    made.close()


# --- the store -----------------------------------------------------------------------------------------------


async def test_a_linked_token_comes_back_for_its_person_only(tokens: LinkedTokens) -> None:
    alice, bob, secret = subject(), subject(), token()
    await tokens.link(ISSUER, alice, secret, label="alice@example.org")
    found = await tokens.token_for(ISSUER, alice)
    assert found is not None
    assert found.get_secret_value() == secret.get_secret_value()
    assert await tokens.token_for(ISSUER, bob) is None
    assert await tokens.token_for("https://other.example.org", alice) is None


async def test_linking_again_replaces_the_token_and_label(tokens: LinkedTokens) -> None:
    person, first, second = subject(), token(), token()
    await tokens.link(ISSUER, person, first, label="old")
    await tokens.link(ISSUER, person, second, label="new")
    found = await tokens.token_for(ISSUER, person)
    assert found is not None
    assert found.get_secret_value() == second.get_secret_value()
    assert [(row.subject, row.label) for row in await tokens.linked(ISSUER) if row.subject == person] == [
        (person, "new")
    ]


async def test_unlink_forgets_the_token_and_says_whether_there_was_one(tokens: LinkedTokens) -> None:
    person = subject()
    await tokens.link(ISSUER, person, token())
    assert await tokens.unlink(ISSUER, person) is True
    assert await tokens.token_for(ISSUER, person) is None
    assert await tokens.unlink(ISSUER, person) is False


async def test_the_list_names_people_of_one_issuer_and_never_a_token(tokens: LinkedTokens) -> None:
    other_issuer = f"https://other-{uuid.uuid4().hex[:6]}.example.org"
    person, secret = subject(), token()
    before = time.time()
    await tokens.link(other_issuer, person, secret, label="Person One")
    await tokens.link(ISSUER, subject(), token())
    listed = await tokens.linked(other_issuer)
    assert [(row.issuer, row.subject, row.label) for row in listed] == [(other_issuer, person, "Person One")]
    assert before - 1 <= listed[0].linked_at.timestamp() <= time.time() + 1
    assert secret.get_secret_value() not in repr(listed)
    assert len(await tokens.linked()) >= 2


async def test_a_row_moved_to_another_person_does_not_decrypt(reachable: dict[str, object]) -> None:
    tokens = LinkedTokens(**reachable, key=CredentialKey.parse(KEY))  # type: ignore[arg-type]
    victim, thief = subject(), subject()
    await tokens.link(ISSUER, victim, token())
    execute(reachable, f"UPDATE {TABLE} SET subject = '{thief}' WHERE subject = '{victim}'")
    with pytest.raises(LinkedTokenError, match="cannot be decrypted"):
        await tokens.token_for(ISSUER, thief)
    tokens.close()


async def test_a_row_linked_under_another_key_says_so(backend: dict[str, object]) -> None:
    person = subject()
    first = LinkedTokens(**backend, key=CredentialKey.parse(CredentialKey.generate()))  # type: ignore[arg-type]
    await first.link(ISSUER, person, token())
    if backend:  # the in-memory database belongs to its store: the second key is tried through the first's
        first.close()
        second = LinkedTokens(**backend, key=CredentialKey.parse(KEY))  # type: ignore[arg-type]
    else:
        second = first
        second._key = CredentialKey.parse(KEY)
    with pytest.raises(LinkedTokenError) as refused:
        await second.token_for(ISSUER, person)
    stale = [row.subject for row in await second.under_other_keys(ISSUER)]
    second.close()
    assert person in stale
    assert str(refused.value) == ("the Code Ocean token was linked under a different CO_MCP_CREDENTIAL_KEY; link again")


async def test_after_rotation_the_old_key_still_opens_and_new_links_use_the_new_key(
    backend: dict[str, object],
) -> None:
    old, new = CredentialKey.generate(), CredentialKey.generate()
    earlier, later, secret = subject(), subject(), token()
    before = LinkedTokens(**backend, key=CredentialKey.parse(old))  # type: ignore[arg-type]
    await before.link(ISSUER, earlier, secret)
    rotated = CredentialKey.parse(f"{new}, {old}")
    if backend:
        before.close()
        after = LinkedTokens(**backend, key=rotated)  # type: ignore[arg-type]
    else:
        after = before
        after._key = rotated
    found = await after.token_for(ISSUER, earlier)
    await after.link(ISSUER, later, token())
    after._key = CredentialKey.parse(new)  # the old key dropped: what was linked under it no longer opens
    await after.token_for(ISSUER, later)
    with pytest.raises(LinkedTokenError, match="different CO_MCP_CREDENTIAL_KEY"):
        await after.token_for(ISSUER, earlier)
    after.close()
    assert found is not None
    assert found.get_secret_value() == secret.get_secret_value()


@pytest.mark.parametrize(
    ("issuer", "who", "secret", "label", "field"),
    [
        ("", "alice", "cop_x", None, "issuer"),
        (ISSUER, " ", "cop_x", None, "subject"),
        (ISSUER, "a" * 256, "cop_x", None, "subject"),
        (ISSUER, "alice", "  ", None, "token"),
        (ISSUER, "alice", "cop_x\nsecond-line", None, "token"),
        (ISSUER, "alice", "cop_x", "x" * 201, "label"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    tokens: LinkedTokens, issuer: str, who: str, secret: str, label: str | None, field: str
) -> None:
    before = await tokens.linked()
    with pytest.raises(InvalidArgumentError) as refused:
        await tokens.link(issuer, who, SecretStr(secret), label=label)
    assert refused.value.field == field
    assert secret.strip() == "" or secret.strip() not in str(refused.value)
    assert await tokens.linked() == before


# --- nothing in clear at rest ------------------------------------------------------------------------------


async def test_the_sqlite_file_holds_no_clear_text_of_the_token(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    tokens, secret, person = LinkedTokens.sqlite(path, CredentialKey.parse(KEY)), token(), subject()
    await tokens.link(ISSUER, person, secret, label="Alice")
    await tokens.token_for(ISSUER, person)
    at_rest = files_of(path)
    tokens.close()
    assert person.encode() in at_rest  # the files were read while they held the row (WAL included)
    assert secret.get_secret_value().encode() not in at_rest
    assert KEY.encode() not in at_rest


@pytest.mark.postgres
async def test_postgresql_holds_no_clear_text_of_the_token(postgres_url: str) -> None:
    tokens, secret, person = LinkedTokens(postgres_url, key=CredentialKey.parse(KEY)), token(), subject()
    await tokens.link(ISSUER, person, secret, label="Alice")
    tokens.close()
    rows = execute({"url": postgres_url}, f"SELECT * FROM {TABLE}")  # every column of every row
    at_rest = repr(rows).encode() + b"".join(bytes(cell) for row in rows for cell in row if isinstance(cell, bytes))
    assert person.encode() in at_rest
    assert secret.get_secret_value().encode() not in at_rest
    assert secret.get_secret_value().encode().hex().encode() not in at_rest


async def test_each_write_uses_a_fresh_nonce(tmp_path: Path) -> None:
    path, secret, person = tmp_path / "state.sqlite3", token(), subject()
    tokens = LinkedTokens.sqlite(path, CredentialKey.parse(KEY))
    sealed = []
    for _ in range(2):
        await tokens.link(ISSUER, person, secret)
        sealed.append(execute({"sqlite_path": path}, f"SELECT sealed FROM {TABLE}")[0][0])
    tokens.close()
    assert sealed[0] != sealed[1]


# --- the key -------------------------------------------------------------------------------------------------


def test_a_generated_key_parses_and_keys_differ() -> None:
    first, second = CredentialKey.generate(), CredentialKey.generate()
    assert len(first) == 44
    assert first != second
    assert CredentialKey.parse(first).key_id != CredentialKey.parse(second).key_id
    assert CredentialKey.parse(first.rstrip("=")).key_id == CredentialKey.parse(first).key_id


@pytest.mark.parametrize(
    "value",
    [
        "short-key-canary",
        KEY[:-2] + "!!",  # 44 characters, not base64
        KEY + "AAAA",  # 48 characters: 35 bytes
        f"{KEY},not-a-key-canary",
        f"{KEY},",
    ],
)
def test_a_malformed_key_is_refused_in_one_sentence_without_echo(value: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        CredentialKey.parse(value)
    message = str(refused.value)
    assert "CO_MCP_CREDENTIAL_KEY" in message
    assert "co-mcp credentials new-key" in message
    assert len(message.splitlines()) == 1
    for part in value.split(","):
        if part:
            assert part not in message
            assert part[:12] not in message


def test_the_key_is_never_in_its_repr() -> None:
    key = CredentialKey.parse(KEY)
    assert KEY not in repr(key)
    assert KEY[:12] not in repr(key)


def test_without_a_key_the_settings_name_it_and_say_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        linked_tokens_from_settings(Settings(state_dir=tmp_path))
    assert "CO_MCP_CREDENTIAL_KEY is not set" in str(refused.value)
    assert "co-mcp credentials new-key" in str(refused.value)


def test_the_settings_put_linked_tokens_where_used_confirmations_are(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, credential_key=KEY)
    assert credential_key_from_settings(settings).key_id == CredentialKey.parse(KEY).key_id
    tokens, store = linked_tokens_from_settings(settings), ConfirmationStore.from_settings(settings)
    assert tokens.describe() == store.describe() == str(tmp_path / "state.sqlite3")
    url = "postgresql://comcp:pw-canary@db.example.org/co_mcp"
    shared = Settings(state_dir=tmp_path, credential_key=KEY, state_url=url)
    assert state_location(shared).url == url
    assert linked_tokens_from_settings(shared).describe() == "postgresql://comcp:***@db.example.org/co_mcp"
    assert "pw-canary" not in repr(state_location(shared))


async def test_an_unreachable_database_is_a_store_error_that_never_shows_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tokens = LinkedTokens(
        f"postgresql://comcp:pw-canary-123@127.0.0.1:{free_port()}/postgres", key=CredentialKey.parse(KEY)
    )
    with caplog.at_level(logging.ERROR), pytest.raises(StoreError) as failed:
        await tokens.link(ISSUER, subject(), token())
    assert str(failed.value).startswith("the linked Code Ocean tokens (connect) failed")
    assert "pw-canary-123" not in caplog.text + str(failed.value)


async def test_confirmations_and_linked_tokens_share_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store, tokens = ConfirmationStore.sqlite(path), LinkedTokens.sqlite(path, CredentialKey.parse(KEY))
    assert await store.claim("k" * 64, keep_for=300) is None
    await tokens.link(ISSUER, "alice", token())
    store.close()
    tokens.close()
    with sqlite3.connect(path) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"co_mcp_used_confirmations", TABLE} <= tables


@pytest.mark.slow
def test_two_processes_linking_at_once_both_succeed_and_the_last_write_wins(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    start = time.time() + 1.5  # both processes wait for this moment, then link 20 times each
    script = (
        "import sys, time, anyio; from pathlib import Path; from pydantic import SecretStr\n"
        "from co_mcp.linked import CredentialKey, LinkedTokens\n"
        "tokens = LinkedTokens.sqlite(Path(sys.argv[1]), CredentialKey.parse(sys.argv[2]))\n"
        f"time.sleep(max(0.0, {start} - time.time()))\n"
        "async def main():\n"
        "    for i in range(20):\n"
        "        await tokens.link('https://issuer.example', 'alice', SecretStr(f'cop_{sys.argv[3]}_{i}'))\n"
        "anyio.run(main)\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", script, str(path), KEY, name], stderr=subprocess.PIPE, text=True)
        for name in ("one", "two")
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0], errors
    tokens = LinkedTokens.sqlite(path, CredentialKey.parse(KEY))
    import anyio

    found = anyio.run(tokens.token_for, "https://issuer.example", "alice")
    listed = anyio.run(tokens.linked)
    tokens.close()
    assert found is not None
    assert found.get_secret_value() in {"cop_one_19", "cop_two_19"}
    assert len(listed) == 1


# --- helpers -------------------------------------------------------------------------------------------------


def execute(backend: dict[str, object], statement: str) -> list[tuple[object, ...]]:
    """Run SQL on the test's database directly, bypassing the store (as an attacker with the file would)."""
    if "sqlite_path" in backend:
        with sqlite3.connect(str(backend["sqlite_path"])) as db:
            cursor = db.execute(statement)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    import psycopg

    with psycopg.connect(str(backend["url"]), autocommit=True) as pg:
        done = pg.execute(statement.encode())
        return [tuple(row) for row in done.fetchall()] if done.description else []


def files_of(database: Path) -> bytes:
    """The raw bytes of an SQLite database: its file, and its -wal and -shm files while they exist."""
    return b"".join(file.read_bytes() for file in database.parent.iterdir() if file.name.startswith(database.name))
