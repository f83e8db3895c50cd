"""Every write is on the audit log before anything is sent, through the real protocol, in both eras.

The audit log is put on a full device (``/dev/full``) and on a read-only file, and every write tool is
called: Code Ocean (the sandbox's request log) sees no change, and each answer names the audit log. A log
that fills up part-way (a real file, then the full device) shows the rest: an outcome line that cannot be
written leaves the real outcome reported, never an internal error, and a batch stops at the first item whose
attempt line cannot be written, saying so for that item and every later one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from co_mcp.audit import AuditLog
from co_mcp.sandbox import Sandbox
from tests.conftest import ServerFactory
from tests.server.test_guard import CASES, IDS, answering, target
from tests.support import text
from tests.unwritable import FULL_DEVICE, read_only_file

pytestmark = pytest.mark.anyio

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=["full device", "read-only file"])
def unwritable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """Each way an audit log refuses a line at the moment of a write."""
    if request.param == "full device":
        yield FULL_DEVICE
        return
    with read_only_file(tmp_path / "audit.jsonl") as path:
        yield path


class FillsUp(AuditLog):
    """An audit file that takes ``room`` lines, then lives on a full device: every later line fails (ENOSPC)."""

    def __init__(self, path: Path, room: int) -> None:
        super().__init__(path)
        self.room = room

    def _append_durably(self, line: bytes) -> None:
        if self.room == 0:
            self.path = FULL_DEVICE
        self.room -= 1
        super()._append_durably(line)


def changes(sandbox: Sandbox) -> list[str]:
    """The requests that changed something at Code Ocean, or tried to: all but reads and searches."""
    return [
        f"{e.method} {e.path}" for e in sandbox.request_log.entries if e.method != "GET" and e.operation != "search"
    ]


def archived_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.archived)


def plain_writes(sandbox: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """Every write tool that is not guarded, with arguments that would succeed."""
    return [
        ("create_data_asset", {"name": "Audited first", "source": {"kind": "s3", "bucket": "lab"}}),
        ("update_data_asset", {"data_asset_id": target(sandbox), "description": "audited first"}),
        ("unarchive_data_asset", {"data_asset_id": archived_asset(sandbox)}),
    ]


def assert_refused_for_the_audit_log(result: CallToolResult) -> None:
    said = text(result)
    assert result.is_error, said
    assert "audit log cannot be written" in said
    assert "Nothing was sent to Code Ocean" in said
    assert "Internal error" not in said


# --- nothing is sent when the attempt line cannot be written --------------------------------------------


@pytest.mark.parametrize("write", range(3), ids=["create", "update", "unarchive"])
async def test_a_write_is_not_sent_when_its_audit_line_cannot_be_written(
    write: int, unwritable: Path, make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    tool, arguments = plain_writes(sandbox)[write]
    async with Client(make_server(audit=AuditLog(unwritable)), mode=mode) as client:
        sandbox.request_log.clear()
        result = await client.call_tool(tool, arguments)
    assert_refused_for_the_audit_log(result)
    assert changes(sandbox) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("path", ["elicitation", "token"])
async def test_a_confirmed_guarded_action_is_not_sent_when_its_audit_line_cannot_be_written(
    case: Any, path: str, unwritable: Path, make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    asset_id = target(sandbox)
    arguments = {"data_asset_ids": [asset_id], **case.extra}
    server = make_server(case.user, audit=AuditLog(unwritable))
    if path == "elicitation":
        async with Client(server, mode=mode, elicitation_callback=answering("accept", {"confirm": True})) as client:
            sandbox.request_log.clear()
            result = await client.call_tool(case.tool, arguments)
    else:
        async with Client(server, mode=mode) as client:
            preview = await client.call_tool(case.tool, arguments)
            assert preview.structured_content is not None
            sandbox.request_log.clear()
            result = await client.call_tool(
                case.tool, {**arguments, "confirm_token": preview.structured_content["confirm_token"]}
            )
    assert_refused_for_the_audit_log(result)
    assert changes(sandbox) == []
    assert not case.done(sandbox, asset_id)


# --- an outcome line that cannot be written -------------------------------------------------------------


@pytest.mark.parametrize("write", range(3), ids=["create", "update", "unarchive"])
async def test_a_write_whose_outcome_line_fails_reports_what_happened(
    write: int, make_server: ServerFactory, mode: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    tool, arguments = plain_writes(sandbox)[write]
    audit = FillsUp(tmp_path / "audit.jsonl", room=1)  # the attempt line, then nothing
    async with Client(make_server(audit=audit), mode=mode) as client:
        sandbox.request_log.clear()
        result = await client.call_tool(tool, arguments)
    said = text(result)
    assert not result.is_error, said
    operation = {"create_data_asset": "create", "update_data_asset": "update", "unarchive_data_asset": "archive"}
    assert [e.operation for e in sandbox.request_log.entries].count(operation[tool]) == 1  # it happened, once
    assert "audit log could not record this outcome" in said
    assert "do not repeat it" in said
    assert [r["outcome"] for r in AuditLog(tmp_path / "audit.jsonl").read()] == ["attempt"]


async def test_a_failed_write_whose_outcome_line_fails_reports_the_failure_and_the_log(
    make_server: ServerFactory, mode: str, tmp_path: Path
) -> None:
    audit = FillsUp(tmp_path / "audit.jsonl", room=1)
    async with Client(make_server(audit=audit), mode=mode) as client:
        result = await client.call_tool("unarchive_data_asset", {"data_asset_id": MISSING})
    said = text(result)
    assert result.is_error
    assert MISSING in said  # Code Ocean's answer, explained
    assert "audit log could not record this outcome" in said
    assert "Internal error" not in said


# --- a batch on a log that fills up part-way -------------------------------------------------------------


def alice_assets(sandbox: Sandbox, count: int) -> list[str]:
    alice = sandbox.users["alice"].id
    found = [r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready" and not r.archived]
    return found[:count]


async def archive_batch(make_server: ServerFactory, mode: str, ids: list[str], audit: AuditLog) -> CallToolResult:
    elicit = answering("accept", {"confirm": True})
    async with Client(make_server(audit=audit), mode=mode, elicitation_callback=elicit) as client:
        return await client.call_tool("archive_data_asset", {"data_asset_ids": ids})


def item_outcomes(result: CallToolResult) -> list[tuple[str, str]]:
    assert result.structured_content is not None
    return [(item["id"], item["outcome"]) for item in result.structured_content["items"]]


async def test_a_batch_stops_at_the_first_item_the_audit_log_cannot_record(
    make_server: ServerFactory, mode: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    first, second, third = alice_assets(sandbox, 3)
    audit = FillsUp(tmp_path / "audit.jsonl", room=2)  # the first item's attempt and outcome lines
    sandbox.request_log.clear()
    result = await archive_batch(make_server, mode, [first, second, third], audit)
    said = text(result)
    assert not result.is_error, said
    assert item_outcomes(result) == [(first, "done"), (second, "skipped"), (third, "skipped")]
    assert said.count("not sent: the audit log cannot be written (no space left on device)") == 2
    assert [e.operation for e in sandbox.request_log.entries if e.operation == "archive"] == ["archive"]
    assert [r["outcome"] for r in AuditLog(tmp_path / "audit.jsonl").read()] == ["attempt", "done"]


async def test_a_batch_item_whose_outcome_line_fails_is_reported_done_and_the_rest_not_sent(
    make_server: ServerFactory, mode: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    first, second, third = alice_assets(sandbox, 3)
    audit = FillsUp(tmp_path / "audit.jsonl", room=3)  # the first item's two lines, the second's attempt
    sandbox.request_log.clear()
    result = await archive_batch(make_server, mode, [first, second, third], audit)
    said = text(result)
    assert item_outcomes(result) == [(first, "done"), (second, "done"), (third, "skipped")]
    assert "audit log could not record this outcome (no space left on device)" in said
    assert "not sent: the audit log cannot be written" in said
    assert [e.operation for e in sandbox.request_log.entries if e.operation == "archive"] == ["archive", "archive"]
    assert "Internal error" not in said


async def test_the_operator_reads_the_audit_logs_path_and_the_client_never_does(
    make_server: ServerFactory, sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with read_only_file(tmp_path / "audit.jsonl") as path:
        async with Client(make_server(audit=AuditLog(path)), mode="legacy") as client:
            result = await client.call_tool("update_data_asset", plain_writes(sandbox)[1][1])
    assert str(path) not in text(result)
    assert [r.levelname for r in caplog.records if str(path) in r.getMessage()] == ["ERROR"]
