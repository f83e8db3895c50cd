"""Audit log: durable JSON lines, secrets redacted, concurrent writers never interleave."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from co_mcp.audit import REDACTED, AuditLog, AuditLogError, redact
from co_mcp.errors import ConfigurationError
from tests.unwritable import read_only_file

pytestmark = pytest.mark.anyio


async def test_a_write_appends_one_complete_json_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    await log.write("update_data_asset", outcome="ok", data_asset_ids=["a"], arguments={"name": "n"}, status=200)
    [record] = log.read()
    assert record["tool"] == "update_data_asset"
    assert (record["outcome"], record["status"], record["arguments"]) == ("ok", 200, {"name": "n"})
    assert record["time"].endswith("Z")


async def test_secrets_in_arguments_are_redacted(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    arguments = {"confirm_token": "v1.1.x.y", "source": {"gcp": {"client_secret": "s3cr3t", "bucket": "b"}}}
    await log.write("create_data_asset", outcome="ok", data_asset_ids=[], arguments=arguments)
    text = (tmp_path / "audit.jsonl").read_text()
    assert "s3cr3t" not in text
    assert "v1.1.x.y" not in text
    assert json.loads(text)["arguments"]["source"]["gcp"] == {"client_secret": REDACTED, "bucket": "b"}


async def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "deep" / "er" / "audit.jsonl")
    await log.write("archive_data_asset", outcome="ok", data_asset_ids=["a"], arguments={})
    assert len(log.read()) == 1


async def test_concurrent_writes_stay_whole_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    big = "x" * 5000

    async def write(n: int) -> None:
        await log.write("t", outcome="ok", data_asset_ids=[str(n)], arguments={"d": big})

    async with anyio.create_task_group() as group:
        for n in range(40):
            group.start_soon(write, n)
    records = log.read()
    assert sorted(int(r["data_asset_ids"][0]) for r in records) == list(range(40))


async def test_dash_sends_lines_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog("-")
    await log.write("delete_data_asset", outcome="ok", data_asset_ids=["a"], arguments={}, deleted={"id": "a"})
    assert json.loads(capsys.readouterr().err)["deleted"] == {"id": "a"}


def test_redact_leaves_other_values_alone() -> None:
    assert redact({"a": [1, {"token": "t", "b": "c"}]}) == {"a": [1, {"token": REDACTED, "b": "c"}]}


async def test_records_name_the_deployment(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", domain="https://co.example.org")
    await log.write("archive_data_asset", outcome="done", data_asset_ids=["a"], arguments={})
    assert log.read()[0]["domain"] == "https://co.example.org"


# --- one record, one physical line ------------------------------------------------------------------

# Every character a common reader takes as a line break: str.splitlines, universal-newline text files,
# bytes.splitlines, log shippers splitting on Unicode separators.
LINE_BREAKS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def record_with(text: str) -> dict[str, Any]:
    """Keyword arguments for AuditLog.write with ``text`` in every string field, nested ones included."""
    return {
        "tool": f"tool{text}name",
        "outcome": f"done{text}",
        "data_asset_ids": [f"id{text}1"],
        "arguments": {f"key{text}": [f"value{text}", {"nested": f"deep{text}er"}], "name": f"a{text}b"},
        "message": f"Code Ocean{text}said",
        "fingerprint": f"f{text}p",
        "deleted": {"name": f"old{text}name", "custom_metadata": {f"k{text}": f"v{text}"}, "tags": [f"t{text}"]},
    }


def physical_lines(path: Path) -> dict[str, int]:
    """How many records each common reader sees in the file."""
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    with path.open(encoding="utf-8") as universal:  # newline=None: \r and \r\n end lines too
        universal_lines = universal.readlines()
    return {
        "str.splitlines": len(text.splitlines()),
        "bytes.splitlines": len(raw.splitlines()),
        "universal newlines": len(universal_lines),
        "split on \\n": len(text.split("\n")) - 1,
    }


@pytest.mark.parametrize("brk", LINE_BREAKS, ids=[f"U+{ord(c[-1]):04X}" for c in LINE_BREAKS])
async def test_a_record_is_one_physical_line_whatever_its_text_holds(tmp_path: Path, brk: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", domain=f"https://co{brk}.example.org")
    fields = record_with(brk)
    await log.write(
        fields.pop("tool"), outcome=fields.pop("outcome"), data_asset_ids=fields.pop("data_asset_ids"),
        arguments=fields.pop("arguments"), **fields,
    )  # fmt: skip
    assert set(physical_lines(log.path or tmp_path).values()) == {1}
    [record] = log.read()
    expected = record_with(brk)
    assert record["domain"] == f"https://co{brk}.example.org"
    assert {key: record[key] for key in expected} == expected


async def test_a_lone_surrogate_from_a_client_is_kept_as_an_escape(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    await log.write("update_data_asset", outcome="attempt", data_asset_ids=[], arguments={"name": "a\ud800b"})
    assert log.read()[0]["arguments"]["name"] == "a\ud800b"
    assert (tmp_path / "audit.jsonl").read_bytes().count(b"\n") == 1


async def test_records_written_before_the_escape_are_still_read(tmp_path: Path) -> None:
    # A file from an older co_mcp holds U+2028 raw inside a string: read() must not split the record there.
    path = tmp_path / "audit.jsonl"
    path.write_text('{"tool":"a\u2028b","outcome":"done"}\n{"tool":"c","outcome":"done"}\n', encoding="utf-8")
    assert [r["tool"] for r in AuditLog(path).read()] == ["a\u2028b", "c"]


# --- a log that cannot be written ---------------------------------------------------------------------


async def test_a_full_device_is_an_audit_log_error_naming_no_path() -> None:
    log = AuditLog("/dev/full")
    with pytest.raises(AuditLogError) as refused:
        await log.write("archive_data_asset", outcome="attempt", data_asset_ids=["a"], arguments={})
    assert str(refused.value) == "the audit log cannot be written (no space left on device)"


async def test_a_read_only_file_is_an_audit_log_error(tmp_path: Path) -> None:
    with read_only_file(tmp_path / "audit.jsonl") as path, pytest.raises(AuditLogError) as refused:
        await AuditLog(path).write("t", outcome="attempt", data_asset_ids=[], arguments={})
    assert str(refused.value).startswith("the audit log cannot be written (")
    assert str(path) not in str(refused.value)
    assert path.read_text() == ""


async def test_a_closed_stderr_is_an_audit_log_error(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = io.TextIOWrapper(io.BytesIO())
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    with pytest.raises(AuditLogError):
        await AuditLog("-").write("t", outcome="attempt", data_asset_ids=[], arguments={})


def test_a_folder_that_cannot_be_created_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigurationError, match="CO_MCP_AUDIT_LOG"):
        AuditLog(blocker / "logs" / "audit.jsonl")
