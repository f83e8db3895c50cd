"""Tool declarations: every tool in the catalog is declared whole and consistently."""

from __future__ import annotations

import pytest

from co_mcp.tools import CATALOG
from co_mcp.tools.definition import ToolDefinition
from co_mcp.tools.get import GetArgs, GetResult, get_data_asset
from co_mcp.tools.guard import GuardResult


def test_every_tool_has_a_unique_name_words_and_models() -> None:
    names = [tool.name for tool in CATALOG]
    assert len(names) == len(set(names))
    for tool in CATALOG:
        assert tool.title
        assert tool.description
        assert tool.args.model_config.get("extra") == "forbid"


def test_a_guarded_tool_plans_and_answers_with_a_guard_result() -> None:
    for tool in CATALOG:
        if tool.effect == "guarded":
            assert tool.plan is not None
            assert tool.run is None
            assert tool.result is GuardResult
            assert "confirm" in tool.description


def test_annotations_follow_the_effect() -> None:
    effects = {tool.name: (tool.read_only, tool.destructive) for tool in CATALOG}
    assert effects["search_data_assets"] == (True, False)
    assert effects["create_data_asset"] == (False, False)
    assert effects["delete_data_asset"] == (False, True)


def test_a_declaration_with_a_plan_and_a_run_is_refused() -> None:
    with pytest.raises(TypeError, match="guarded tool has a plan"):
        ToolDefinition(
            name="x", title="x", description="x", args=GetArgs, result=GetResult, effect="read", run=get_data_asset,
            plan=lambda deps, args: None,  # type: ignore[arg-type,return-value]
        )  # fmt: skip


def test_a_guarded_declaration_without_a_plan_is_refused() -> None:
    with pytest.raises(TypeError):
        ToolDefinition(name="x", title="x", description="x", args=GetArgs, result=GetResult, effect="guarded")
