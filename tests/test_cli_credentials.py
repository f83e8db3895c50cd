"""``co-mcp credentials``: link a person's Code Ocean token after checking it against the sandbox over real HTTP.

The witnesses: the linked-token table read back with the configured key, and the sandbox's request log (the
check is one search). Every test also checks that no token reaches stdout or stderr.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from pydantic import SecretStr

from co_mcp.cli import main
from co_mcp.linked import CredentialKey, LinkedTokens
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import running
from tests.support import clear_settings
from tests.test_config_examples import CO_MCP, free_port

ISSUER = "https://login.example.org/realms/lab"
KEY = CredentialKey.generate()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Team mode's settings, with a private state directory and no Code Ocean domain yet."""
    clear_settings(monkeypatch)
    monkeypatch.setenv("CO_MCP_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CO_MCP_CREDENTIAL_KEY", KEY)
    monkeypatch.setenv("CO_MCP_AUTH_ISSUER", ISSUER)
    monkeypatch.setenv("CO_MCP_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("CO_MCP_READ_TIMEOUT", "5")
    return monkeypatch


@pytest.fixture
def served(sandbox: Sandbox, env: pytest.MonkeyPatch) -> Iterator[str]:
    """The sandbox over loopback, named by CODEOCEAN_DOMAIN; its request log starts empty."""
    with running(sandbox) as url:
        env.setenv("CODEOCEAN_DOMAIN", url)
        sandbox.request_log.clear()
        yield url


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> Run:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(["credentials", *argv])
    out, err = capsys.readouterr()
    return Run(code, out, err)


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def shows(self, secret: str) -> bool:
        return secret in self.out or secret in self.err


def stored(tmp_path: Path, subject: str, issuer: str = ISSUER) -> str | None:
    tokens = LinkedTokens.sqlite(tmp_path / "state" / "state.sqlite3", CredentialKey.parse(KEY))
    try:
        found = anyio.run(tokens.token_for, issuer, subject)
    finally:
        tokens.close()
    return None if found is None else found.get_secret_value()


def requests(sandbox: Sandbox) -> list[tuple[str, str, int | None]]:
    return [(entry.method, entry.path, entry.status) for entry in sandbox.request_log.entries]


SEARCH = ("POST", "/api/v1/data_assets/search")


@pytest.mark.loopback
def test_link_checks_alices_token_against_code_ocean_and_stores_it(
    served: str, sandbox: Sandbox, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = sandbox.token_for("alice")
    done = run(env, capsys, "link", "alice-sub", "--label", "alice@example.org", stdin=token + "\n")
    assert done.code == 0, done.err
    assert stored(tmp_path, "alice-sub") == token
    assert requests(sandbox) == [(*SEARCH, 200)]  # the check: one search, which changes nothing
    assert f"linked alice-sub at {ISSUER}" in done.err
    assert not done.shows(token)


@pytest.mark.loopback
@pytest.mark.parametrize(("token", "status"), [("cop_revoked_token_canary", 401), ("", None)], ids=["401", "empty"])
def test_a_token_code_ocean_rejects_is_refused_and_nothing_is_stored(
    served: str,
    sandbox: Sandbox,
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    token: str,
    status: int | None,
) -> None:
    done = run(env, capsys, "link", "alice-sub", stdin=token + "\n")
    assert done.code == (1 if status else 2)
    assert len(done.err.strip().splitlines()) == 1
    assert "Traceback" not in done.err
    assert requests(sandbox) == ([(*SEARCH, status)] if status else [])  # an empty token is refused before any request
    assert not (tmp_path / "state" / "state.sqlite3").exists() or stored(tmp_path, "alice-sub") is None
    if token:
        assert "Code Ocean refused the token (401)" in done.err
        assert "nothing was stored" in done.err
        assert not done.shows(token)


@pytest.mark.loopback
def test_a_rejected_token_leaves_the_previous_link_in_place(
    served: str, sandbox: Sandbox, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = sandbox.token_for("alice")
    assert run(env, capsys, "link", "alice-sub", stdin=good).code == 0
    assert run(env, capsys, "link", "alice-sub", stdin="cop_revoked_token_canary").code == 1
    assert stored(tmp_path, "alice-sub") == good


@pytest.mark.loopback
def test_linking_again_replaces_the_token(
    served: str, sandbox: Sandbox, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run(env, capsys, "link", "alice-sub", stdin=sandbox.token_for("alice")).code == 0
    assert run(env, capsys, "link", "alice-sub", stdin=sandbox.token_for("alice_readonly")).code == 0
    assert stored(tmp_path, "alice-sub") == sandbox.token_for("alice_readonly")


@pytest.mark.loopback
def test_list_shows_issuer_subject_label_and_time_never_a_token(
    served: str, sandbox: Sandbox, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    alice, bob = sandbox.token_for("alice"), sandbox.token_for("bob")
    assert run(env, capsys, "link", "alice-sub", "--label", "alice@example.org", stdin=alice).code == 0
    assert run(env, capsys, "link", "bob-sub", "--issuer", "https://other.example.org", stdin=bob).code == 0
    everyone = run(env, capsys, "list")
    one_issuer = run(env, capsys, "list", "--issuer", ISSUER)
    assert everyone.code == one_issuer.code == 0
    rows = [line.split("\t") for line in everyone.out.splitlines()]
    assert rows[0] == ["ISSUER", "SUBJECT", "LABEL", "LINKED AT"]
    assert [row[:3] for row in rows[1:]] == [
        ["https://login.example.org/realms/lab", "alice-sub", "alice@example.org"],
        ["https://other.example.org", "bob-sub", "-"],
    ]
    assert [line.split("\t")[1] for line in one_issuer.out.splitlines()[1:]] == ["alice-sub"]
    for done in (everyone, one_issuer):
        assert not done.shows(alice)
        assert not done.shows(bob)


def test_list_marks_people_linked_under_another_key(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = LinkedTokens.sqlite(tmp_path / "state" / "state.sqlite3", CredentialKey.parse(CredentialKey.generate()))
    anyio.run(lambda: old.link(ISSUER, "alice-sub", SecretStr("cop_old_key_canary")))
    old.close()
    done = run(env, capsys, "list")
    assert done.code == 0
    assert "alice-sub" in done.out
    assert "under another CO_MCP_CREDENTIAL_KEY: link again" in done.out
    assert not done.shows("cop_old_key_canary")


@pytest.mark.loopback
def test_unlink_forgets_the_token_then_says_there_is_none(
    served: str, sandbox: Sandbox, env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = sandbox.token_for("alice")
    assert run(env, capsys, "link", "alice-sub", stdin=token).code == 0
    first, second = run(env, capsys, "unlink", "alice-sub"), run(env, capsys, "unlink", "alice-sub")
    assert (first.code, second.code) == (0, 1)
    assert stored(tmp_path, "alice-sub") is None
    assert f"no Code Ocean token is linked for alice-sub at {ISSUER}" in second.err
    assert not first.shows(token)


def test_without_an_issuer_link_and_unlink_are_refused_naming_both_ways(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.delenv("CO_MCP_AUTH_ISSUER")
    env.setenv("CODEOCEAN_DOMAIN", f"http://127.0.0.1:{free_port()}")
    for argv in (["link", "alice-sub"], ["unlink", "alice-sub"]):
        done = run(env, capsys, *argv, stdin="cop_issuerless_canary")
        assert done.code == 2
        assert done.err.strip() == "co-mcp credentials: no issuer: pass --issuer URL, or set CO_MCP_AUTH_ISSUER"


@pytest.mark.parametrize("key", [None, "not-a-key-canary"], ids=["unset", "malformed"])
def test_without_a_valid_key_every_command_but_new_key_is_refused_with_exit_2(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str | None
) -> None:
    if key is None:
        env.delenv("CO_MCP_CREDENTIAL_KEY")
    else:
        env.setenv("CO_MCP_CREDENTIAL_KEY", key)
    for argv in (["link", "alice-sub"], ["unlink", "alice-sub"], ["list"]):
        done = run(env, capsys, *argv, stdin="cop_keyless_canary")
        assert done.code == 2
        assert len(done.err.strip().splitlines()) == 1
        assert "CO_MCP_CREDENTIAL_KEY" in done.err
        assert "co-mcp credentials new-key" in done.err
        assert not done.shows("not-a-key-canary")
        assert not done.shows("cop_keyless_canary")


def test_link_without_a_code_ocean_domain_is_refused_before_reading_the_token(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    done = run(env, capsys, "link", "alice-sub", stdin="cop_domainless_canary")
    assert done.code == 2
    assert "CODEOCEAN_DOMAIN is not set" in done.err
    assert not (tmp_path / "state" / "state.sqlite3").exists()


@pytest.mark.parametrize("stdin", ["cop_first_canary\ncop_second_canary\n", "\n"], ids=["two lines", "blank"])
def test_stdin_must_hold_one_token_on_one_line(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str
) -> None:
    env.setenv("CODEOCEAN_DOMAIN", f"http://127.0.0.1:{free_port()}")
    done = run(env, capsys, "link", "alice-sub", stdin=stdin)
    assert done.code == 2
    assert done.err.startswith("co-mcp credentials: token: ")
    assert not done.shows("canary")


def test_new_key_prints_a_key_the_store_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["credentials", "new-key"]) == 0
    out = capsys.readouterr().out.strip()
    assert CredentialKey.parse(out).key_id
    assert main(["credentials", "new-key"]) == 0
    assert capsys.readouterr().out.strip() != out


def test_an_unreachable_state_database_is_exit_1_without_its_password(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("CO_MCP_STATE_URL", f"postgresql://co:pw-canary-db@127.0.0.1:{free_port()}/co_mcp")
    done = run(env, capsys, "list")
    assert done.code == 1
    assert done.err.strip().splitlines()[
        -1
    ] == "co-mcp credentials: the linked Code Ocean tokens (connect) failed: " + ("OperationalError")
    assert "pw-canary-db" not in done.err


@pytest.mark.slow
@pytest.mark.loopback
def test_the_installed_command_reads_the_token_from_a_pipe(sandbox: Sandbox, tmp_path: Path) -> None:
    token = sandbox.token_for("alice")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_"))}
    with running(sandbox) as url:
        env |= {
            "CODEOCEAN_DOMAIN": url,
            "CO_MCP_STATE_DIR": str(tmp_path / "state"),
            "CO_MCP_CREDENTIAL_KEY": KEY,
            "CO_MCP_AUTH_ISSUER": ISSUER,
        }
        done = subprocess.run(
            [str(CO_MCP), "credentials", "link", "alice-sub"],
            input=token + "\n",
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        listed = subprocess.run(
            [str(CO_MCP), "credentials", "list"], capture_output=True, text=True, env=env, timeout=120, check=False
        )
    assert done.returncode == 0, done.stderr
    assert stored(tmp_path, "alice-sub") == token
    assert "alice-sub" in listed.stdout
    for output in (done.stdout, done.stderr, listed.stdout, listed.stderr):
        assert token not in output
