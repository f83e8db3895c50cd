"""Log notifications: co_mcp's own log records reach a client that asked for them, and only then.

2025-11-25 clients ask with logging/setLevel (kept for the connection); 2026-07-28 clients ask per request
through the _meta log level. A retried 503 is the real event: the client logs a warning when it retries.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Literal

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import EmptyResult, LoggingMessageNotificationParams, SetLevelRequest, SetLevelRequestParams

from co_mcp.errors import NotFoundError
from co_mcp.sandbox import Sandbox
from co_mcp.server import build_server, tool_specs
from co_mcp.tools.metadata_schema import MetadataSchema
from tests.conftest import ServerFactory, client_for
from tests.test_server import alice_asset, text

# The client's logging API is deprecated as of 2026-07-28 (SEP-2577); 2025-11-25 clients still use it.
pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")]

Received = list[LoggingMessageNotificationParams]


def collector() -> tuple[Received, Any]:
    received: Received = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    return received, on_log


async def get_after_one_503(client: Client, sandbox: Sandbox) -> None:
    asset = alice_asset(sandbox)
    sandbox.faults.error(503, ops="get", for_requests=1)
    result = await client.call_tool("get_data_asset", {"data_asset_ids": asset})
    assert not result.is_error, result


async def test_initialize_declares_the_logging_capability_to_2025_clients(make_server: ServerFactory) -> None:
    async with Client(make_server(), mode="legacy") as client:
        assert client.server_capabilities.logging is not None


async def test_after_set_level_a_retry_reaches_the_2025_client_as_a_warning(
    make_server: ServerFactory, sandbox: Sandbox
) -> None:
    received, on_log = collector()
    async with Client(make_server(), mode="legacy", logging_callback=on_log) as client:
        assert (await client.set_logging_level("warning")).model_dump(exclude_none=True) == {}
        await get_after_one_503(client, sandbox)
    retries = [entry for entry in received if "retrying GET" in str(entry.data)]
    assert [entry.level for entry in retries] == ["warning"], received
    assert "503" in str(retries[0].data)
    assert retries[0].logger == "co_mcp.api"


async def test_without_set_level_a_2025_client_gets_no_log_notifications(
    make_server: ServerFactory, sandbox: Sandbox
) -> None:
    received, on_log = collector()
    async with Client(make_server(), mode="legacy", logging_callback=on_log) as client:
        await get_after_one_503(client, sandbox)
    assert received == []
    assert len([r for r in sandbox.request_log.entries if r.status == 503]) == 1  # the retry did happen


async def test_a_level_above_the_record_filters_it_out(make_server: ServerFactory, sandbox: Sandbox) -> None:
    received, on_log = collector()
    async with Client(make_server(), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("error")
        await get_after_one_503(client, sandbox)
    assert received == []


async def test_an_unknown_level_is_refused_as_invalid_params(make_server: ServerFactory) -> None:
    async with Client(make_server(), mode="legacy") as client:
        # Built without validation: the client would refuse the level before sending it.
        params = SetLevelRequestParams.model_construct(level="loud")  # type: ignore[arg-type]
        with pytest.raises(MCPError) as caught:
            await client.session.send_request(SetLevelRequest.model_construct(params=params), EmptyResult)
    assert caught.value.error.code == -32602


# debug too: it opts in to every level, which once read as "no per-request opt-in".
@pytest.mark.parametrize("level", ["info", "debug"])
async def test_a_2026_client_that_opts_in_per_request_gets_the_warning(
    make_server: ServerFactory, sandbox: Sandbox, level: Literal["info", "debug"]
) -> None:
    received, on_log = collector()
    async with Client(make_server(), mode="auto", logging_callback=on_log, log_level=level) as client:
        await get_after_one_503(client, sandbox)
    assert any(entry.level == "warning" and "retrying GET" in str(entry.data) for entry in received), received


async def test_a_2026_client_that_does_not_opt_in_gets_nothing(make_server: ServerFactory, sandbox: Sandbox) -> None:
    received, on_log = collector()
    async with Client(make_server(), mode="auto", logging_callback=on_log) as client:
        await get_after_one_503(client, sandbox)
    assert received == []


def noisy_server(sandbox: Sandbox, fail: bool) -> Any:
    """The server with get_custom_metadata_schema replaced by a tool that logs as co_mcp and as the sandbox."""

    async def noisy(*_: Any) -> Any:
        logging.getLogger("co_mcp.tools").warning("a line of ours")
        logging.getLogger("co_mcp.sandbox").warning("a line of the emulated Code Ocean")
        logging.getLogger("co_mcp.server").warning("the operator's line", extra={"operator_only": True})
        if fail:
            raise NotFoundError(404, "no such schema", method="GET", path="custom_metadata")
        return MetadataSchema(fields=[])

    specs = [s if s.name != "get_custom_metadata_schema" else replace(s, run=noisy) for s in tool_specs()]
    return build_server(lambda: client_for(sandbox), specs=specs)


async def test_only_co_mcps_own_client_facing_records_are_forwarded(sandbox: Sandbox) -> None:
    received, on_log = collector()
    async with Client(noisy_server(sandbox, fail=False), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("debug")
        await client.call_tool("get_custom_metadata_schema", {})
    assert [(entry.logger, entry.data) for entry in received] == [("co_mcp.tools", "a line of ours")]


async def test_a_tool_error_still_answers_after_the_log_lines_it_caused(sandbox: Sandbox) -> None:
    received, on_log = collector()
    async with Client(noisy_server(sandbox, fail=True), mode="legacy", logging_callback=on_log) as client:
        await client.set_logging_level("warning")
        result = await client.call_tool("get_custom_metadata_schema", {})
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("no_such_prompt")
    assert result.is_error
    assert "Not found" in text(result)
    assert [entry.data for entry in received] == ["a line of ours"]
    assert caught.value.error.code == -32602
