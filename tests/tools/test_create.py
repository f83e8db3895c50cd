"""create_data_asset: each source kind, waiting, named credential sets; a made asset is never reported as failed."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from co_mcp.config import CredentialSet, GcpCredentials
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID
from tests.conftest import ServerFactory
from tests.support import call, text

pytestmark = pytest.mark.anyio


async def test_create_from_s3_makes_exactly_one_draft_asset(mcp: Client, sandbox: Sandbox) -> None:
    before = sandbox.store.count_assets()
    source = {"kind": "s3", "bucket": "lab-bucket", "prefix": "run7"}
    data = (await call(mcp, "create_data_asset", {"name": "Run 7", "source": source, "tags": ["x"]})).structured_content
    assert data is not None
    assert sandbox.store.count_assets() == before + 1
    stored = sandbox.store.get_asset(data["asset"]["id"])
    assert stored is not None
    assert (stored.name, stored.tags, stored.mount) == ("Run 7", ["x"], "Run_7")


async def test_create_with_wait_returns_the_settled_asset(mcp: Client, sandbox: Sandbox) -> None:
    source = {"kind": "computation", "computation_id": DEMO_COMPUTATION_ID}
    data = (
        await call(mcp, "create_data_asset", {"name": "Results", "source": source, "wait": True})
    ).structured_content
    assert data is not None
    assert data["asset"]["state"] == "ready"
    stored = sandbox.store.get_asset(data["asset"]["id"])
    assert stored is not None
    assert stored.type == "result"


async def test_create_from_gcs_uses_a_named_credential_set_without_exposing_it(
    make_server: ServerFactory, mode: str, sandbox: Sandbox
) -> None:
    secret = "gcs-client-secret-canary-4711"
    creds = {"lab-gcs": CredentialSet(gcp=GcpCredentials(client_id="id-canary-4711", client_secret=secret))}
    async with Client(make_server(credentials=creds), mode=mode) as client:
        source = {"kind": "gcs", "bucket": "lab-gcs-bucket", "credentials": "lab-gcs"}
        result = await call(client, "create_data_asset", {"name": "From GCS", "source": source, "wait": True})
    assert secret not in text(result)
    assert secret not in json.dumps(result.structured_content)
    assert secret not in repr(sandbox.request_log.entries)
    assert result.structured_content is not None
    assert result.structured_content["asset"]["state"] == "ready"


async def test_create_with_an_unknown_credential_set_names_the_field_and_sends_nothing(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.request_log.clear()
    source = {"kind": "gcs", "bucket": "lab-gcs-bucket", "credentials": "nope"}
    result = await mcp.call_tool("create_data_asset", {"name": "x", "source": source})
    assert result.is_error
    assert "source.credentials" in text(result)
    assert sandbox.request_log.entries == []


async def test_create_rejects_an_unknown_source_kind(mcp: Client) -> None:
    result = await mcp.call_tool("create_data_asset", {"name": "x", "source": {"kind": "ftp", "bucket": "b"}})
    assert result.is_error
    assert "source" in text(result)


async def test_a_create_whose_wait_fails_is_reported_as_created_never_as_failed(mcp: Client, sandbox: Sandbox) -> None:
    sandbox.api.ready_delay = 30
    sandbox.faults.error(503, ops="get")  # every poll fails, after the create succeeded
    before = sandbox.store.count_assets()
    result = await mcp.call_tool(
        "create_data_asset", {"name": "Waited", "source": {"kind": "s3", "bucket": "lab"}, "wait": True}
    )
    assert not result.is_error, text(result)
    assert "Do not create it again" in text(result)
    assert sandbox.store.count_assets() == before + 1
