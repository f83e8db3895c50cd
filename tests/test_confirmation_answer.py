"""The user's answer to a confirmation question: only the JSON ``true`` is a yes, through the real protocol.

Lax pydantic read "yes", "true", "on" and 1 as true. A client that sends those did not send what was
asked for, so nothing is done and the model reads a plain sentence, with no Python names in it. The
sandbox's request log is the witness of what acted.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.test_guard import CASES, IDS, answering, destructive_requests, target, text

pytestmark = pytest.mark.anyio

NOT_YES = {
    "the string yes": {"confirm": "yes"},
    "the string true": {"confirm": "true"},
    "the number 1": {"confirm": 1},
    "the string on": {"confirm": "on"},
    "no confirm field": {"ok": True},
    "no content": None,
}
PYTHON_NAMES = ("Resolver", "co_mcp", "<locals>", "pydantic", "type=", "Error executing", "ValidationError")


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_only_true_acts(case: Any, make_server: ServerFactory, mode: str, sandbox: Sandbox) -> None:
    asset_id = target(sandbox)
    elicit = answering("accept", {"confirm": True})
    async with Client(make_server(case.user), mode=mode, elicitation_callback=elicit) as client:
        sandbox.request_log.clear()
        result = await client.call_tool(case.tool, {"data_asset_ids": [asset_id], **case.extra})
    assert not result.is_error, text(result)
    assert destructive_requests(sandbox) == [case.operation]


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("answer", list(NOT_YES.values()), ids=list(NOT_YES))
async def test_an_answer_that_is_not_true_sends_nothing_and_says_so_plainly(
    case: Any, answer: dict[str, Any] | None, make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    asset_id = target(sandbox)
    async with Client(make_server(case.user), mode=mode, elicitation_callback=answering("accept", answer)) as client:
        sandbox.request_log.clear()
        result = await client.call_tool(case.tool, {"data_asset_ids": [asset_id], **case.extra})
    assert destructive_requests(sandbox) == []
    assert not case.done(sandbox, asset_id)
    said = text(result)
    assert result.is_error
    assert "nothing was done" in said
    assert [name for name in PYTHON_NAMES if name in said] == []
