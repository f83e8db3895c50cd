"""The ``Sandbox`` bundle: users and tokens, arguments, demo data, a reusable database, and its isolation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from co_mcp.sandbox import DEFAULT_TOKEN, Sandbox
from co_mcp.sandbox.demo_data import ALICE_ID, DEMO_DATASET_ID
from co_mcp.sandbox.faults import FaultPlan
from tests.sandbox.conftest import basic, record, uid

ASSETS = "/api/v1/data_assets"


def test_users_have_short_names() -> None:
    sandbox = Sandbox(assets=0)
    assert list(sandbox.users) == ["alice", "bob", "carol", "alice_readonly", "admin"]
    assert sandbox.users["alice_readonly"].id == sandbox.users["alice"].id == ALICE_ID
    assert sandbox.token_for("alice") == DEFAULT_TOKEN == "cop_sandbox_token"


def test_token_for_an_unknown_name_lists_the_names() -> None:
    with pytest.raises(KeyError, match="alice, bob"):
        Sandbox(assets=0).token_for("mallory")


@pytest.mark.anyio
async def test_a_custom_token_replaces_alices() -> None:
    sandbox = Sandbox(assets=12, token="cop_my_own")
    assert sandbox.token_for("alice") == "cop_my_own"
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app), base_url="http://s") as http:
        mine = await http.get(f"{ASSETS}/{DEMO_DATASET_ID}", headers=basic("cop_my_own"))
        old = await http.get(f"{ASSETS}/{DEMO_DATASET_ID}", headers=basic(DEFAULT_TOKEN))
    assert (mine.status_code, old.status_code) == (200, 401)


@pytest.mark.parametrize(
    "kwargs",
    [{"assets": -1}, {"ready_delay": -0.5}, {"token": ""}, {"token": "has:colon"}, {"faults": "bogus-fault"}],
)
def test_invalid_arguments_raise_value_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        Sandbox(**kwargs)  # type: ignore[arg-type]


def test_a_fault_spec_string_becomes_a_plan() -> None:
    assert isinstance(Sandbox(assets=0, faults="503:for=1@get").faults, FaultPlan)


def test_the_demo_data_is_generated_once_per_seed() -> None:
    first, second = Sandbox(assets=30, seed=4), Sandbox(assets=30, seed=4)
    assert first.store.count_assets() == 30
    assert [a.name for a in first.store.all_assets()] == [a.name for a in second.store.all_assets()]


def test_an_existing_database_is_reused_as_it_is(tmp_path: Path) -> None:
    path = str(tmp_path / "sandbox.sqlite3")
    first = Sandbox(db_path=path, assets=15)
    first.store.insert_asset(record(uid(1), name="kept across restarts"))
    first.close()
    second = Sandbox(db_path=path, assets=100)
    assert second.store.count_assets() == 16
    kept = second.store.get_asset(uid(1))
    assert kept is not None
    assert kept.name == "kept across restarts"
    second.close()


@pytest.mark.slow
def test_the_sandbox_never_imports_the_client_side() -> None:
    # The sandbox is the server; it must not share code with the client it is used to test.
    code = (
        "import sys, co_mcp.sandbox, co_mcp.sandbox.server\n"
        "bad = [m for m in sys.modules\n"
        "       if m in ('mcp', 'co_mcp.api', 'co_mcp.errors') or m.startswith(('mcp.', 'co_mcp.api.'))]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
