"""Settings errors name the variable and what is wrong with it, and never repeat its value.

A value may be a secret: a password in ``CODEOCEAN_DOMAIN`` (``https://user:pw@host``), or a token pasted
into the wrong variable. The message goes to a terminal, a desktop client's log window or a support ticket.
Every setting is tried with wrong values that carry a marker, through each place that judges settings: the
settings themselves, the server's start (``co-mcp``'s own steps up to serving) and ``co-mcp doctor``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from co_mcp.api.domain import domain_problem
from co_mcp.cli import main
from co_mcp.config import Settings, load_settings
from co_mcp.doctor import diagnose, report
from co_mcp.errors import ConfigurationError
from tests.support import clear_settings

pytestmark = pytest.mark.anyio

SECRET = "cop_5ecret0marker9a8b7c6d5e4f"

# Wrong values for each setting, each holding the marker. A setting missing here fails the coverage test.
WRONG: dict[str, list[str]] = {
    "CODEOCEAN_DOMAIN": [
        SECRET,
        f"https://user:{SECRET}@codeocean.example.com",
        f"https://{SECRET}@codeocean.example.com",
        f"ftp://codeocean.example.com/{SECRET}",
        f"{SECRET}://codeocean.example.com",
        f"https:///{SECRET}",
        f" {SECRET} ",
    ],
    "CO_MCP_CONNECT_TIMEOUT": [SECRET, "-1"],
    "CO_MCP_READ_TIMEOUT": [SECRET],
    "CO_MCP_RETRY_ATTEMPTS": [SECRET],
    "CO_MCP_RETRY_TIMEOUT": [SECRET],
    "CO_MCP_MAX_RETRY_AFTER": [SECRET],
    "CO_MCP_CREDENTIALS": [SECRET, f'{{"lab": "{SECRET}"}}', f'{{"lab": {{"gcp": {{"client_id": "{SECRET}"}}}}}}'],
    "CO_MCP_CREDENTIALS_FILE": [f"/nonexistent/{SECRET}.json"],
    "CO_MCP_READ_ONLY": [SECRET],
    "CO_MCP_TOOLS": [SECRET, f"search_data_assets,{SECRET}"],
    "CO_MCP_DISABLE": [SECRET],
    "CO_MCP_CONFIRM": [SECRET],
    "CO_MCP_CONFIRM_TTL": [SECRET],
    "CO_MCP_HTTP_SESSIONS": [SECRET],
    "CO_MCP_HTTP_NO_AUTH": [SECRET],
    # A database URL may hold a password: a wrong one is named, never repeated.
    "CO_MCP_STATE_URL": [SECRET, f"nosuchdb://user:{SECRET}@db/co_mcp"],
    "CO_MCP_AUTH_ISSUER": [SECRET, f"http://idp.example.org/{SECRET}", f"ftp://{SECRET}.example.org"],
    "CO_MCP_PUBLIC_URL": [SECRET, f"http://mcp.example.org/{SECRET}/mcp", f"https://mcp.example.org/{SECRET}"],
    "CO_MCP_READ_SCOPE": [f"data {SECRET}", f'"{SECRET}'],
    "CO_MCP_WRITE_SCOPE": [f"{SECRET}\\x"],
    "CO_MCP_CREDENTIAL_KEY": [SECRET, f"{SECRET}{SECRET}"],
    "CO_MCP_SUBJECT_CONCURRENCY": [SECRET, "0"],
}
# Settings any text is right for: nothing to refuse, so nothing to echo.
FREE_TEXT = {
    "CODEOCEAN_TOKEN",
    "CODEOCEAN_AGENT_ID",
    "CO_MCP_CONFIRM_SECRET",
    "CO_MCP_HTTP_TOKEN",
    "CO_MCP_ALLOWED_HOSTS",
    "CO_MCP_ALLOWED_ORIGINS",
    "CO_MCP_AUDIT_LOG",  # any path; one that cannot be used is tried below
    "CO_MCP_LINK_CLIENT_ID",  # whatever id the provider gave
    "CO_MCP_LINK_CLIENT_SECRET",
    "CO_MCP_STATE_DIR",  # any path, like the audit log's
}
CASES = [(name, value) for name, values in WRONG.items() for value in values]


def variable(field: str) -> str:
    return field.upper() if field.startswith("codeocean") else f"CO_MCP_{field.upper()}"


def test_every_setting_is_tried_or_takes_any_text() -> None:
    assert {variable(field) for field in Settings.model_fields} == WRONG.keys() | FREE_TEXT


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """An environment with a valid Code Ocean setting and a private audit log, and nothing else of co-mcp's."""
    clear_settings(monkeypatch)
    monkeypatch.setenv("CODEOCEAN_DOMAIN", "http://127.0.0.1:9")  # the discard port: nothing answers
    monkeypatch.setenv("CODEOCEAN_TOKEN", "cop_the_real_token")
    monkeypatch.setenv("CO_MCP_AUDIT_LOG", str(tmp_path / "audit.jsonl"))
    monkeypatch.setenv("CO_MCP_CONNECT_TIMEOUT", "0.5")
    return monkeypatch


@pytest.mark.parametrize(("name", "value"), CASES)
def test_starting_the_server_names_the_variable_and_never_its_value(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    env.setenv(name, value)
    # Every setting is judged before serving begins: a wrong one ends the start with status 2.
    assert main(["--transport", "http", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert name in err
    assert SECRET not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("name", "value"), CASES)
async def test_the_doctor_names_the_variable_and_never_its_value(
    env: pytest.MonkeyPatch, name: str, value: str
) -> None:
    env.setenv(name, value)
    out = io.StringIO()
    report(await diagnose(), out)
    assert name in out.getvalue()
    assert SECRET not in out.getvalue()


def test_an_audit_log_whose_folder_cannot_be_made_is_named_not_repeated(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    blocker = tmp_path / SECRET
    blocker.write_text("")
    env.setenv("CO_MCP_AUDIT_LOG", str(blocker / "logs" / "audit.jsonl"))
    assert main(["--transport", "http", "--host", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert "CO_MCP_AUDIT_LOG" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    "domain",
    ["cop_pasted_token", "ftp://codeocean.example.com", "https://me:pw@codeocean.example.com", "https://", "   "],
)
def test_the_settings_refuse_a_domain_in_the_clients_own_words(domain: str) -> None:
    # One rule (co_mcp.api.domain), so the start-up check and the client never disagree. An empty value is unset.
    settings = Settings(codeocean_domain=domain, codeocean_token="cop_the_real_token")
    with pytest.raises(ConfigurationError) as caught:
        settings.require_codeocean()
    assert str(caught.value) == f"CODEOCEAN_DOMAIN {domain_problem(domain)}"


def test_a_validation_message_loses_pydantics_value_error_prefix(env: pytest.MonkeyPatch) -> None:
    env.setenv("CO_MCP_CREDENTIALS", "{")
    with pytest.raises(Exception, match=r"CO_MCP_CREDENTIALS: CO_MCP_CREDENTIALS is not valid JSON") as refused:
        load_settings()
    assert "Value error" not in str(refused.value)
