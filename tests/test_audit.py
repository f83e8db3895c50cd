"""Audit log: durable JSON lines, secrets redacted, concurrent writers never interleave."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from co_mcp.audit import REDACTED, AuditLog, redact

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
