"""The command line: configuration errors, version, and the guided demo end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from co_mcp import __version__
from co_mcp.cli import main


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


BUILD = "from co_mcp.server import build_server; build_server(lambda: None)"


def test_with_logging_configured_building_the_server_does_not_import_rich() -> None:
    # The CLI configures stderr logging first; the SDK's rich handler would be discarded, so it is not built.
    code = f"import logging, sys; logging.basicConfig(); {BUILD}; print('rich' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"


def test_without_logging_configured_the_sdk_sets_it_up_as_usual() -> None:
    code = f"import logging; {BUILD}; print(len(logging.getLogger().handlers))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "1"
