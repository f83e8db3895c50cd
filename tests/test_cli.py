"""The command line: configuration errors, version, and the guided demo end to end."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from co_mcp import __version__
from co_mcp.cli import main
from tests.support import clear_settings


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_"))}


def test_missing_configuration_is_one_line_naming_the_variables_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("CODEOCEAN_DOMAIN", "CODEOCEAN_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "CODEOCEAN_DOMAIN" in err
    assert "CODEOCEAN_TOKEN" in err
    assert "--sandbox" in err


def test_an_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CO_MCP_READ_TIMEOUT", "soon")
    assert main(["--sandbox"]) == 2
    assert "CO_MCP_READ_TIMEOUT" in capsys.readouterr().err


def test_unknown_tool_names_in_a_deny_list_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CO_MCP_DISABLE", "delete_data_assets")
    assert main(["--sandbox"]) == 2
    err = capsys.readouterr().err
    assert "CO_MCP_DISABLE names 1 tool(s) co_mcp does not have (did you mean delete_data_asset?)" in err
    assert "delete_data_assets" not in err  # a setting's value is never repeated


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"co-mcp {__version__}"


@pytest.mark.slow
@pytest.mark.examples  # the README's first command; its embedded sandbox takes 3 s to make an asset ready
def test_demo_runs_to_the_end_and_exits_0() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "co_mcp", "demo"],
        capture_output=True,
        text=True,
        timeout=180,
        env=clean_env(),
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "search_data_assets" in done.stdout
    assert "Created data asset" in done.stdout
    assert "✗" in done.stdout  # the bad-input step shows a refusal


def test_a_bad_fault_spec_is_refused_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--assets", "0", "--faults", "429:lots"]) == 2
    err = capsys.readouterr().err
    assert "co-mcp sandbox:" in err
    assert "429:lots" in err


def test_a_malformed_domain_is_refused_at_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODEOCEAN_DOMAIN", "codeocean.example.com")
    monkeypatch.setenv("CODEOCEAN_TOKEN", "cop_x")
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "CODEOCEAN_DOMAIN must be a URL" in err
    assert "cop_x" not in err


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_read_only_flag_offers_no_write_tools() -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(
        command=sys.executable, args=["-m", "co_mcp", "--sandbox", "--read-only"], env=clean_env()
    )
    async with Client(params, read_timeout_seconds=60) as client:
        tools = (await client.list_tools()).tools
    assert tools
    assert all(tool.annotations and tool.annotations.read_only_hint for tool in tools)


# --- the HTTP transport's credential ------------------------------------------------------------------

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


@dataclass
class Served:
    url: str
    stdout: str = ""
    stderr: str = ""


@contextlib.contextmanager
def co_mcp_http(tmp_path: Path, *flags: str, **env: str) -> Iterator[Served]:
    """``co-mcp --sandbox --transport http`` on a free loopback port; its output is read once it stopped."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = clean_env() | {"CO_MCP_AUDIT_LOG": str(tmp_path / "audit.jsonl")} | env
    command = [sys.executable, "-m", "co_mcp", "--log-level", "DEBUG", "--sandbox", "--transport", "http"]
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    served = Served(f"http://127.0.0.1:{port}/mcp")
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([*command, "--port", str(port), *flags], env=environment, stdout=stdout, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, err.read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            assert time.monotonic() < deadline, "co-mcp did not listen within 60 s"
            time.sleep(0.05)
        yield served
    finally:
        proc.terminate()
        proc.wait(20)
        served.stdout, served.stderr = out.read_text(), err.read_text()


def post(url: str, body: dict[str, object], token: str | None = None) -> httpx2.Response:
    headers = MCP_HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
    return httpx2.post(url, json=body, headers=headers, timeout=30)


@pytest.mark.slow
def test_http_without_a_token_makes_one_shows_it_once_and_requires_it(tmp_path: Path) -> None:
    with co_mcp_http(tmp_path) as served:
        # Shown before the server listens: it is there by now.
        found = re.search(r"Authorization: Bearer (\S+)", (tmp_path / "stderr").read_text())
        assert found, (tmp_path / "stderr").read_text()
        token = found.group(1)
        anonymous, wrong = post(served.url, INIT), post(served.url, INIT, "not-it")
        answered = post(served.url, INIT, token), post(served.url, LIST_TOOLS, token)
    assert (anonymous.status_code, wrong.status_code) == (401, 401)
    assert [r.status_code for r in answered] == [200, 200]
    assert len(token) >= 32
    # Once, on stderr, although every log line down to DEBUG was written there too; never on stdout.
    assert served.stderr.count(token) == 1
    assert token not in served.stdout
    audit = tmp_path / "audit.jsonl"
    assert not audit.exists() or token not in audit.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "env"), [(["--no-auth"], {}), ([], {"CO_MCP_HTTP_NO_AUTH": "1"})], ids=["flag", "env"]
)
def test_the_opt_out_warns_loudly_and_serves_without_a_token(
    tmp_path: Path, flags: list[str], env: dict[str, str]
) -> None:
    with co_mcp_http(tmp_path, *flags, **env) as served:
        anonymous = post(served.url, INIT)
    assert anonymous.status_code == 200
    assert "WARNING: NO AUTHENTICATION" in served.stderr
    assert "Authorization: Bearer" not in served.stderr


@pytest.mark.slow
def test_a_configured_token_is_required_and_never_shown(tmp_path: Path) -> None:
    chosen = "chosen-bearer-token-0123456789abcdef"
    with co_mcp_http(tmp_path, CO_MCP_HTTP_TOKEN=chosen) as served:
        anonymous, answered = post(served.url, INIT), post(served.url, INIT, chosen)
    assert (anonymous.status_code, answered.status_code) == (401, 200)
    assert chosen not in served.stderr
    assert "Authorization: Bearer" not in served.stderr


def test_beyond_loopback_no_token_is_made_and_the_server_does_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in os.environ if n.startswith("CO_MCP_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CO_MCP_ALLOWED_HOSTS", "mcp.example.org")
    assert main(["--sandbox", "--transport", "http", "--host", "0.0.0.0", "--no-auth"]) == 2
    err = capsys.readouterr().err
    assert "CO_MCP_HTTP_TOKEN" in err
    assert "Authorization: Bearer" not in err


# --- team mode (CO_MCP_AUTH_ISSUER) refuses to start in any shape where a shared token could act -----------------

TEAM = {
    "CO_MCP_AUTH_ISSUER": "https://idp.example.org",
    "CO_MCP_PUBLIC_URL": "https://mcp.example.org/mcp",
    "CODEOCEAN_DOMAIN": "https://codeocean.example.com",
    "CO_MCP_CREDENTIAL_KEY": "0" * 43,
    "CO_MCP_ALLOWED_HOSTS": "mcp.example.org",
    "CO_MCP_LINK_CLIENT_ID": "co-mcp-link",
}


@pytest.mark.parametrize(
    ("change", "argv", "said"),
    [
        ({}, [], "--transport http"),
        ({}, ["--sandbox", "--transport", "http"], "co-mcp sandbox"),
        ({"CODEOCEAN_TOKEN": "cop_shared"}, ["--transport", "http"], "unset CODEOCEAN_TOKEN"),
        ({"CO_MCP_HTTP_TOKEN": "t" * 32}, ["--transport", "http"], "CO_MCP_HTTP_TOKEN"),
        ({"CO_MCP_PUBLIC_URL": None}, ["--transport", "http"], "CO_MCP_PUBLIC_URL"),
        ({"CO_MCP_CREDENTIAL_KEY": None}, ["--transport", "http"], "CO_MCP_CREDENTIAL_KEY"),
        ({"CODEOCEAN_DOMAIN": None}, ["--transport", "http"], "CODEOCEAN_DOMAIN"),
        ({"CO_MCP_LINK_CLIENT_ID": None}, ["--transport", "http"], "CO_MCP_LINK_CLIENT_ID"),
        ({"CO_MCP_ALLOWED_HOSTS": None}, ["--transport", "http", "--host", "0.0.0.0"], "CO_MCP_ALLOWED_HOSTS"),
    ],
    ids=[
        "stdio",
        "sandbox",
        "shared token",
        "shared bearer",
        "no public URL",
        "no key",
        "no domain",
        "no link client",
        "no hosts",
    ],
)
def test_team_mode_refuses_to_start_in_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    change: dict[str, str | None],
    argv: list[str],
    said: str,
) -> None:
    clear_settings(monkeypatch)
    monkeypatch.setenv("CO_MCP_STATE_DIR", str(tmp_path))
    for name, value in {**TEAM, **change}.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert said in err
