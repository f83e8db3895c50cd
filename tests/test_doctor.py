"""``co-mcp doctor`` against the sandbox over loopback: good, bad and read-only tokens, an unreachable host."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from co_mcp.cli import main
from co_mcp.doctor import Check, diagnose
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import running
from tests.support import clear_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with no co-mcp settings but a private audit log and short timeouts."""
    clear_settings(monkeypatch)
    monkeypatch.setenv("CO_MCP_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("CO_MCP_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("CO_MCP_READ_TIMEOUT", "5")
    return monkeypatch


@pytest.fixture
def served(sandbox: Sandbox, env: pytest.MonkeyPatch) -> Iterator[str]:
    """The sandbox over loopback, with CODEOCEAN_DOMAIN pointing at it and alice's token."""
    with running(sandbox) as url:
        env.setenv("CODEOCEAN_DOMAIN", url)
        env.setenv("CODEOCEAN_TOKEN", sandbox.token_for("alice"))
        yield url


def by_name(checks: list[Check]) -> dict[str, Check]:
    # Several checks may share a name (e.g. two "http" warnings); the last one wins, tests ask for unique ones.
    return {check.name: check for check in checks}


def statuses(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.status for check in checks}


@pytest.mark.loopback
async def test_a_good_token_passes_every_check(served: str) -> None:
    checks = await diagnose()
    assert statuses(checks) == {
        "settings": "ok",
        "credentials": "ok",
        "domain": "ok",
        "reach": "ok",
        "token": "ok",
        "read": "ok",
        "write": "ok",
        "audit log": "ok",
        "state": "ok",
        "confirm secret": "ok",
        "safety": "ok",
    }


async def test_the_state_and_the_confirm_secret_are_checked_in_the_state_directory(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("CODEOCEAN_DOMAIN", "https://codeocean.example.com")
    env.setenv("CODEOCEAN_TOKEN", "cop_x")
    env.setenv("CO_MCP_STATE_DIR", str(tmp_path / "state"))
    env.delenv("CO_MCP_AUDIT_LOG")  # the default audit log lives in the state directory too
    checks = {check.name: check for check in await diagnose()}
    assert str(tmp_path / "state") in checks["state"].detail
    assert str(tmp_path / "state") in checks["confirm secret"].detail
    assert str(tmp_path / "state" / "audit.jsonl") in checks["audit log"].detail
    assert not (tmp_path / "state").exists()  # the doctor creates nothing


async def test_an_unreachable_state_database_fails(env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_DOMAIN", "https://codeocean.example.com")
    env.setenv("CODEOCEAN_TOKEN", "cop_x")
    env.setenv("CO_MCP_STATE_URL", "postgresql://co:s3cret-db-pw@127.0.0.1:1/co_mcp")
    checks = {check.name: check for check in await diagnose()}
    assert checks["state"].status == "FAIL"
    assert "s3cret-db-pw" not in checks["state"].detail


@pytest.mark.loopback
async def test_the_write_probe_changes_nothing(served: str, sandbox: Sandbox) -> None:
    before = sandbox.store.all_assets()
    sandbox.request_log.clear()
    await diagnose()
    after = sandbox.store.all_assets()
    puts = sandbox.request_log.matching(method="PUT")
    assert after == before
    assert [(entry.status, entry.committed) for entry in puts] == [(404, False)]
    assert not any(entry.committed for entry in sandbox.request_log.entries)


@pytest.mark.loopback
async def test_a_bad_token_fails_naming_the_401(served: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_TOKEN", "cop_not_a_real_token")
    checks = by_name(await diagnose())
    assert checks["token"].status == "FAIL"
    assert "401" in checks["token"].detail
    assert "CODEOCEAN_TOKEN" in checks["token"].advice
    assert "write" not in checks  # nothing more is tried with a token Code Ocean refused


@pytest.mark.loopback
async def test_a_read_only_token_reads_and_warns_that_it_cannot_write(served: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_TOKEN", "cop_sandbox_readonly")
    checks = by_name(await diagnose())
    assert checks["read"].status == "ok"
    assert checks["write"].status == "warn"
    assert "read-only" in checks["write"].detail
    assert "CO_MCP_READ_ONLY=1" in checks["write"].advice


@pytest.mark.loopback
async def test_a_read_only_token_with_read_only_mode_is_a_complete_setup(served: str, env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_TOKEN", "cop_sandbox_readonly")
    env.setenv("CO_MCP_READ_ONLY", "1")
    checks = await diagnose()
    assert {check.status for check in checks} == {"ok"}
    assert "read-only token" in by_name(checks)["write"].detail


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_host_fails_fast_and_stops_the_network_checks(env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_DOMAIN", f"http://127.0.0.1:{closed_port()}")
    env.setenv("CODEOCEAN_TOKEN", "cop_sandbox_token")
    started = time.monotonic()
    checks = by_name(await diagnose())
    assert time.monotonic() - started < 5
    assert checks["reach"].status == "FAIL"
    assert "cannot connect" in checks["reach"].detail
    assert not {"token", "read", "write"} & checks.keys()


async def test_missing_domain_and_token_are_failures_with_no_network_check(env: pytest.MonkeyPatch) -> None:
    checks = by_name(await diagnose())
    assert (checks["domain"].status, checks["token"].status) == ("FAIL", "FAIL")
    assert "reach" not in checks


async def test_a_domain_that_is_not_a_url_fails(env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_DOMAIN", "codeocean.example.com")
    env.setenv("CODEOCEAN_TOKEN", "cop_x")
    checks = by_name(await diagnose())
    assert checks["domain"].status == "FAIL"
    assert "CODEOCEAN_DOMAIN" in checks["domain"].detail


async def test_plain_http_beyond_loopback_warns(env: pytest.MonkeyPatch) -> None:
    # .invalid never resolves, so the check after it fails; the domain check alone is under test.
    env.setenv("CODEOCEAN_DOMAIN", "http://codeocean.invalid")
    env.setenv("CODEOCEAN_TOKEN", "cop_x")
    checks = by_name(await diagnose())
    assert checks["domain"].status == "warn"
    assert "unencrypted" in checks["domain"].detail


async def test_an_invalid_setting_fails_naming_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_CONFIRM_TTL", "forever")
    checks = await diagnose()
    assert [(check.name, check.status) for check in checks] == [("settings", "FAIL")]
    assert "CO_MCP_CONFIRM_TTL" in checks[0].detail


async def test_a_misspelt_setting_warns_with_the_likely_name(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_READONLY", "1")
    check = by_name(await diagnose())["settings"]
    assert check.status == "warn"
    assert "did you mean CO_MCP_READ_ONLY?" in check.detail


async def test_an_unreadable_credentials_file_fails(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "creds.json"
    bad.write_text("{not json", encoding="utf-8")
    env.setenv("CO_MCP_CREDENTIALS_FILE", str(bad))
    assert by_name(await diagnose())["credentials"].status == "FAIL"


async def test_named_credential_sets_are_listed_by_name_only(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_CREDENTIALS", json.dumps({"lab-gcs": {"gcp": {"client_id": "id-canary", "client_secret": "s"}}}))
    check = by_name(await diagnose())["credentials"]
    assert check.status == "ok"
    assert "lab-gcs" in check.detail
    assert "id-canary" not in check.render()


def test_an_audit_log_that_cannot_be_created_fails_and_nothing_is_created(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    env.setenv("CO_MCP_AUDIT_LOG", str(blocker / "logs" / "audit.jsonl"))
    check = by_name(anyio.run(diagnose))["audit log"]
    assert check.status == "FAIL"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file"]


def test_a_new_audit_log_is_reported_and_not_created(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "state" / "audit.jsonl"
    env.setenv("CO_MCP_AUDIT_LOG", str(target))
    check = by_name(anyio.run(diagnose))["audit log"]
    assert (check.status, check.detail) == ("ok", f"{target} (will be created)")
    assert not target.parent.exists()


async def test_an_http_deployment_without_a_shared_confirm_secret_warns(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_HTTP_TOKEN", "bearer-token")
    env.setenv("CO_MCP_ALLOWED_HOSTS", "mcp.example.org")
    check = by_name(await diagnose())["http"]
    assert check.status == "warn"
    assert "CO_MCP_CONFIRM_SECRET" in check.detail


async def test_the_http_opt_out_of_a_bearer_token_is_a_warning(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_HTTP_NO_AUTH", "1")
    check = by_name(await diagnose())["http"]
    assert check.status == "warn"
    assert "CO_MCP_HTTP_NO_AUTH" in check.detail


async def test_an_http_deployment_with_every_setting_is_ok(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_HTTP_TOKEN", "bearer-token")
    env.setenv("CO_MCP_ALLOWED_HOSTS", "mcp.example.org")
    env.setenv("CO_MCP_CONFIRM_SECRET", "x" * 64)
    check = by_name(await diagnose())["http"]
    assert (check.status, check.detail) == ("ok", "bearer token and shared confirm secret set; hosts: mcp.example.org")


@pytest.mark.loopback
def test_the_command_prints_one_line_per_check_and_exits_0_when_ready(
    served: str, sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("co-mcp doctor ")
    assert lines[-1] == "ready: 0 failure(s), 0 warning(s)"
    assert sandbox.token_for("alice") not in out


def test_the_command_exits_1_when_a_check_fails(env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  domain" in out
    assert out.splitlines()[-1].startswith("not ready: 2 failure(s)")


@pytest.mark.slow
def test_the_doctor_imports_no_mcp() -> None:
    # It must work, and start fast, when the MCP side is the broken part.
    code = "import sys, co_mcp.cli, co_mcp.doctor; print(sorted(m for m in sys.modules if m.split('.')[0] == 'mcp'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


# --- team mode: the credential key and the linked Code Ocean tokens ------------------------------------------


@pytest.fixture
def team(env: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Team mode on, with a state directory of its own and no network check (the domain is a closed port)."""
    env.setenv("CODEOCEAN_DOMAIN", f"http://127.0.0.1:{closed_port()}")
    env.setenv("CODEOCEAN_TOKEN", "cop_x")
    env.setenv("CO_MCP_STATE_DIR", str(tmp_path / "state"))
    env.setenv("CO_MCP_AUTH_ISSUER", "https://login.example.org")
    return env


def link(tmp_path: Path, key: str, subject: str = "alice-sub") -> None:
    from pydantic import SecretStr

    from co_mcp.linked import CredentialKey, LinkedTokens

    tokens = LinkedTokens.sqlite(tmp_path / "state" / "state.sqlite3", CredentialKey.parse(key))
    anyio.run(lambda: tokens.link("https://login.example.org", subject, SecretStr("cop_linked_canary")))
    tokens.close()


async def test_without_team_mode_there_is_no_team_check(env: pytest.MonkeyPatch) -> None:
    assert "team" not in statuses(await diagnose())


@pytest.mark.parametrize("key", [None, "not-a-key-canary"], ids=["unset", "malformed"])
async def test_team_mode_without_a_valid_credential_key_fails_naming_it(
    team: pytest.MonkeyPatch, key: str | None
) -> None:
    if key is not None:
        team.setenv("CO_MCP_CREDENTIAL_KEY", key)
    found = by_name(await diagnose())
    # A malformed key is refused with the settings, before any team check; an unset one by the team check.
    check = found["team"] if key is None else found["settings"]
    assert check.status == "FAIL"
    assert "CO_MCP_CREDENTIAL_KEY" in check.detail
    assert "co-mcp credentials new-key" in check.detail
    assert "not-a-key-canary" not in check.render()


async def test_team_mode_before_anyone_linked_warns_and_creates_nothing(
    team: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from co_mcp.linked import CredentialKey

    team.setenv("CO_MCP_CREDENTIAL_KEY", CredentialKey.generate())
    check = by_name(await diagnose())["team"]
    assert (check.status, "no Code Ocean token linked yet" in check.detail) == ("warn", True)
    assert "co-mcp credentials link" in check.advice
    assert not (tmp_path / "state").exists()


def test_team_mode_counts_the_people_linked(team: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from co_mcp.linked import CredentialKey

    key = CredentialKey.generate()
    team.setenv("CO_MCP_CREDENTIAL_KEY", key)
    link(tmp_path, key, "alice-sub")
    link(tmp_path, key, "bob-sub")
    check = by_name(anyio.run(diagnose))["team"]
    assert check.status == "ok"
    assert check.detail.startswith("2 person(s) have a Code Ocean token linked in ")
    assert "cop_linked_canary" not in check.render()


def test_team_mode_warns_of_tokens_linked_under_another_key(team: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from co_mcp.linked import CredentialKey

    link(tmp_path, CredentialKey.generate())
    team.setenv("CO_MCP_CREDENTIAL_KEY", CredentialKey.generate())
    check = by_name(anyio.run(diagnose))["team"]
    assert check.status == "warn"
    assert "1 of 1 linked Code Ocean token(s) were linked under a different CO_MCP_CREDENTIAL_KEY" in check.detail


async def test_team_mode_with_an_unreachable_database_fails_without_its_password(team: pytest.MonkeyPatch) -> None:
    from co_mcp.linked import CredentialKey

    team.setenv("CO_MCP_CREDENTIAL_KEY", CredentialKey.generate())
    team.setenv("CO_MCP_STATE_URL", f"postgresql://co:s3cret-db-pw@127.0.0.1:{closed_port()}/co_mcp")
    check = by_name(await diagnose())["team"]
    assert check.status == "FAIL"
    assert "the linked Code Ocean tokens (connect) failed" in check.detail
    assert "s3cret-db-pw" not in check.render()


# --- team mode's connection checks: no shared token, the identity provider's keys ---------------------------


@pytest.mark.slow
async def test_team_mode_checks_the_providers_keys_and_that_no_shared_token_is_set(
    served: str, env: pytest.MonkeyPatch, oidc: Any
) -> None:
    env.delenv("CODEOCEAN_TOKEN")
    env.setenv("CO_MCP_AUTH_ISSUER", oidc.issuer)
    env.setenv("CO_MCP_PUBLIC_URL", "http://127.0.0.1:8000/mcp")
    found = by_name(await diagnose())
    assert found["link page"].status == "FAIL"
    env.setenv("CO_MCP_LINK_CLIENT_ID", "co-mcp-link")
    found = by_name(await diagnose())
    assert "link page" not in found
    assert (found["reach"].status, found["token"].status, found["issuer"].status) == ("ok", "ok", "ok")
    assert "1 signing key" in found["issuer"].detail
    assert "write" not in found  # nothing is probed with a shared token: there is none
    env.setenv("CODEOCEAN_TOKEN", "cop_shared")
    assert by_name(await diagnose())["token"].status == "FAIL"


async def test_team_mode_with_an_unreachable_provider_fails_the_issuer_check(env: pytest.MonkeyPatch) -> None:
    env.setenv("CODEOCEAN_DOMAIN", f"http://127.0.0.1:{closed_port()}")
    env.setenv("CO_MCP_AUTH_ISSUER", f"http://127.0.0.1:{closed_port()}")
    env.setenv("CO_MCP_PUBLIC_URL", "https://mcp.example.org/mcp")
    check = by_name(await diagnose())["issuer"]
    assert check.status == "FAIL"
    assert "cannot read the signing keys" in check.detail
