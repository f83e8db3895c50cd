"""Resources, prompts and completions through the real protocol, in both eras."""

from __future__ import annotations

import json

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference, ResourceTemplateReference, TextResourceContents

from co_mcp.sandbox import Sandbox

pytestmark = pytest.mark.anyio


def alice_asset(sandbox: Sandbox) -> str:
    alice = sandbox.users["alice"].id
    return next(r.id for r in sandbox.store.all_assets() if r.owner_id == alice and r.state == "ready")


async def test_resource_templates_are_listed(mcp: Client) -> None:
    templates = {t.uri_template for t in (await mcp.list_resource_templates()).resource_templates}
    assert templates == {
        "codeocean://data-assets/{data_asset_id}",
        "codeocean://data-assets/{data_asset_id}/permissions",
    }


async def test_a_data_asset_resource_is_its_json(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = alice_asset(sandbox)
    record = sandbox.store.get_asset(asset_id)
    assert record is not None
    [content] = (await mcp.read_resource(f"codeocean://data-assets/{asset_id}")).contents
    assert isinstance(content, TextResourceContents)
    assert content.mime_type == "application/json"
    data = json.loads(content.text)
    assert (data["id"], data["name"]) == (record.id, record.name)


async def test_a_permissions_resource_lists_the_owner(mcp: Client, sandbox: Sandbox) -> None:
    asset_id = alice_asset(sandbox)
    [content] = (await mcp.read_resource(f"codeocean://data-assets/{asset_id}/permissions")).contents
    assert isinstance(content, TextResourceContents)
    assert {"email": "alice@example.org", "role": "owner"} in json.loads(content.text)["users"]


async def test_an_unknown_data_asset_resource_is_not_found(mcp: Client) -> None:
    with pytest.raises(MCPError) as caught:
        await mcp.read_resource("codeocean://data-assets/00000000-0000-4000-8000-000000000000")
    assert caught.value.error.code == -32602


async def test_prompts_are_listed_with_descriptions(mcp: Client) -> None:
    prompts = {p.name: p for p in (await mcp.list_prompts()).prompts}
    assert set(prompts) == {"find_dataset", "tidy_up"}
    assert all(p.description for p in prompts.values())


async def test_find_dataset_prompt_carries_the_analysis(mcp: Client) -> None:
    prompt = await mcp.get_prompt("find_dataset", {"analysis": "differential expression in PBMC"})
    assert "differential expression in PBMC" in str(prompt.messages[0].content)


async def test_completion_offers_ids_of_assets_named_like_the_prefix(mcp: Client, sandbox: Sandbox) -> None:
    record = sandbox.store.get_asset(alice_asset(sandbox))
    assert record is not None
    word = record.name.split()[0]
    ref = ResourceTemplateReference(type="ref/resource", uri="codeocean://data-assets/{data_asset_id}")
    completion = (await mcp.complete(ref, {"name": "data_asset_id", "value": word})).completion
    assert record.id in completion.values


async def test_completion_ignores_other_arguments(mcp: Client) -> None:
    ref = PromptReference(type="ref/prompt", name="find_dataset")
    completion = (await mcp.complete(ref, {"name": "analysis", "value": "rna"})).completion
    assert completion.values == []
