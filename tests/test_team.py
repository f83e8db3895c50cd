"""co_mcp.team: each person's client, cap and link tickets (the end-to-end tests are tests/server/test_team.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr

from co_mcp.api import CodeOceanClient
from co_mcp.errors import ConfigurationError
from co_mcp.linked import CredentialKey, LinkedTokens
from co_mcp.oauth import AccessTokenValidator
from co_mcp.sandbox import Sandbox
from co_mcp.signin import LinkClient, Sealer, SignIn
from co_mcp.store import ConfirmationStore
from co_mcp.team import LinkRefused, NotLinked, Person, Team, check_public_url, link_page_url
from tests.conftest import FAST_RETRY, SANDBOX_URL

pytestmark = pytest.mark.anyio

ISSUER = "https://idp.example.org"
ALICE = Person(ISSUER, "alice")
BOB = Person(ISSUER, "bob")


@pytest.fixture
async def team(sandbox: Sandbox) -> AsyncIterator[Team]:
    made: list[CodeOceanClient] = []

    def make_client(token: SecretStr) -> CodeOceanClient:
        client = CodeOceanClient(SANDBOX_URL, token, transport=httpx2.ASGITransport(app=sandbox.app), retry=FAST_RETRY)
        made.append(client)
        return client

    async def check(token: SecretStr) -> str | None:
        if token.get_secret_value() not in {sandbox.token_for(name) for name in sandbox.users}:
            raise LinkRefused("Code Ocean did not accept this token.")
        return None

    http = httpx2.AsyncClient()
    key = CredentialKey.parse(CredentialKey.generate())
    validator = AccessTokenValidator(ISSUER, "https://mcp.example.org/mcp", http)
    sealer = Sealer(key)
    built = Team(
        validator=validator,
        public_url="https://mcp.example.org/mcp",
        scopes=("r", "w"),
        linked=LinkedTokens(key=key),
        make_client=make_client,
        check=check,
        sealer=sealer,
        sign_in=SignIn(validator, LinkClient("c", None, "https://mcp.example.org/link/callback"), sealer, http),
        store=ConfirmationStore(),
        concurrency=2,
    )
    built.made = made  # type: ignore[attr-defined]
    yield built
    await built.aclose()


def closed(client: CodeOceanClient) -> bool:
    return bool(client._http.is_closed)


async def test_a_person_without_a_token_is_told_where_to_link_it(team: Team) -> None:
    with pytest.raises(NotLinked) as raised:
        await team.client_for(ALICE)
    assert raised.value.url.startswith("https://mcp.example.org/link?ticket=")
    assert "never into this chat" in str(raised.value)
    assert team.holder(raised.value.url.split("ticket=", 1)[1]) == ALICE


async def test_each_person_gets_their_own_client_kept_while_their_token_is_the_same(
    team: Team, sandbox: Sandbox
) -> None:
    await team.linked.link(ISSUER, "alice", SecretStr(sandbox.token_for("alice")))
    await team.linked.link(ISSUER, "bob", SecretStr(sandbox.token_for("bob")))
    alice, again, bob = await team.client_for(ALICE), await team.client_for(ALICE), await team.client_for(BOB)
    assert alice is again
    assert alice is not bob
    assert alice.identity != bob.identity


async def test_a_new_link_replaces_the_client_closing_the_old_one_once_no_call_uses_it(
    team: Team, sandbox: Sandbox
) -> None:
    await team.linked.link(ISSUER, "alice", SecretStr(sandbox.token_for("alice")))
    old = await team.client_for(ALICE)
    async with team.limiter(ALICE):  # a call of alice's still running with the old client
        await team.linked.link(ISSUER, "alice", SecretStr(sandbox.token_for("alice_readonly")))
        new = await team.client_for(ALICE)
        assert new is not old
        assert not closed(old)
    await team.client_for(ALICE)
    assert closed(old)


async def test_an_unlinked_person_loses_their_client(team: Team, sandbox: Sandbox) -> None:
    await team.linked.link(ISSUER, "alice", SecretStr(sandbox.token_for("alice")))
    old = await team.client_for(ALICE)
    await team.linked.unlink(ISSUER, "alice")
    with pytest.raises(NotLinked):
        await team.client_for(ALICE)
    assert closed(old)


async def test_the_cap_is_per_person(team: Team) -> None:
    assert team.limiter(ALICE) is team.limiter(ALICE)
    assert team.limiter(ALICE) is not team.limiter(BOB)
    assert team.limiter(ALICE).total_tokens == 2


async def test_a_ticket_links_once_after_code_ocean_accepts_the_token(team: Team, sandbox: Sandbox) -> None:
    ticket = team.ticket(ALICE)
    with pytest.raises(LinkRefused, match="did not accept"):
        await team.redeem(ticket, SecretStr("cop_wrong"))
    assert await team.linked.token_for(ISSUER, "alice") is None
    assert await team.redeem(ticket, SecretStr(sandbox.token_for("alice"))) == ALICE
    with pytest.raises(LinkRefused, match="already used"):
        await team.redeem(ticket, SecretStr(sandbox.token_for("bob")))
    token = await team.linked.token_for(ISSUER, "alice")
    assert token is not None
    assert token.get_secret_value() == sandbox.token_for("alice")


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # the sealed part altered
        lambda t: t + "=",  # re-spelled: padding
        lambda t: t + "....",  # re-spelled: characters lenient base64 would drop
        lambda t: "0000000000000000" + t[t.index(".") :],  # another key's id
        lambda t: t.split(".", 1)[0],  # truncated
        lambda t: "",
    ],
    ids=["altered", "padded", "dotted", "other key", "truncated", "empty"],
)
async def test_a_ticket_not_exactly_as_co_mcp_sealed_it_is_refused(team: Team, change: Any) -> None:
    with pytest.raises(LinkRefused, match="not one co-mcp made"):
        team.holder(change(team.ticket(ALICE)))


async def test_a_ticket_names_no_one_in_clear(team: Team) -> None:
    ticket = team.ticket(Person(ISSUER, "alice@example.org"))
    assert "alice" not in ticket
    assert "example" not in ticket


async def test_a_value_sealed_for_another_purpose_is_not_a_ticket(team: Team) -> None:
    proof = team.sign_in.vouch(team.ticket(ALICE), "browser")
    with pytest.raises(LinkRefused):
        team.holder(proof)


async def test_an_expired_ticket_is_refused(team: Team, monkeypatch: pytest.MonkeyPatch) -> None:
    ticket = team.ticket(ALICE)
    later = time.time() + 3600
    monkeypatch.setattr("co_mcp.signin.time.time", lambda: later)
    with pytest.raises(LinkRefused, match="expired"):
        team.holder(ticket)


async def test_a_token_sealed_under_a_key_no_longer_held_asks_for_a_new_link(
    team: Team, sandbox: Sandbox, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    before = LinkedTokens.sqlite(state, CredentialKey.parse(CredentialKey.generate()))
    await before.link(ISSUER, "alice", SecretStr(sandbox.token_for("alice")))
    before.close()
    team.linked = LinkedTokens.sqlite(state, CredentialKey.parse(CredentialKey.generate()))  # the key was replaced
    with pytest.raises(NotLinked) as raised:
        await team.client_for(ALICE)
    team.linked.close()
    assert raised.value.reason == "unreadable"
    assert "link your token again" in str(raised.value)


def test_the_link_page_sits_beside_the_mcp_endpoint() -> None:
    assert link_page_url("https://mcp.example.org/mcp") == "https://mcp.example.org/link"
    assert link_page_url("http://127.0.0.1:8000/mcp/") == "http://127.0.0.1:8000/link"


@pytest.mark.parametrize(
    "url",
    [
        "mcp.example.org/mcp",
        "http://mcp.example.org/mcp",
        "https://mcp.example.org/",
        "https://mcp.example.org/mcp?x=1",
    ],
)
def test_public_urls_that_cannot_be_an_audience_are_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="CO_MCP_PUBLIC_URL"):
        check_public_url(url)
