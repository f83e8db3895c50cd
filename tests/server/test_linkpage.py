"""The team-mode link page under attack: a planted cookie, a used link, a provider outage, the audit of a link.

Real HTTP throughout: co-mcp's team app on loopback, a real OpenID provider (tests/oidc.py), the sandbox as Code
Ocean.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette

from co_mcp.linked import CredentialKey, LinkedTokens
from co_mcp.oauth import AccessTokenValidator
from co_mcp.sandbox import Sandbox
from co_mcp.server.linkpage import link_routes
from co_mcp.signin import LinkClient, Sealer, SignIn
from co_mcp.store import ConfirmationStore
from co_mcp.team import LinkRefused, Person, Team
from tests.oidc import ANY_LOCAL_MCP, OTHER_RESOURCE, Provider, running_provider
from tests.server.team import Deployment, deployment, mcp_as, open_link, proof_of

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def team(tmp_path: Path, oidc: Provider) -> Iterator[Deployment]:
    with deployment(tmp_path, oidc, Sandbox(assets=10, seed=7, ready_delay=0.0)) as running:
        yield running


async def link_url(team: Deployment, person: str) -> str:
    async with mcp_as(team.url, team.token(person)) as client:
        result = await client.call_tool("search_data_assets", {"limit": 1})
    said = " ".join(getattr(block, "text", "") for block in result.content)
    start = said.index(f"{team.base}/link?ticket=")
    return said[start:].split()[0]


# --- 1. the browser-binding cookie can be planted from a sibling host (cookie tossing -> login CSRF) ---------------


async def test_over_https_the_link_cookie_is_a_host_only_cookie_no_sibling_host_can_plant(oidc: Provider) -> None:
    # mallory, on any other host of the same site (a sibling subdomain, or a plain-http one she can intercept),
    # can set `co_mcp_link=<her own browser value>; Domain=example.org; Path=/link` in alice's browser. Then the
    # callback URL of mallory's own sign-in, opened by alice, shows alice the genuine form "Signed in as mallory";
    # the Code Ocean token alice pastes is linked to mallory's identity, and mallory acts as alice in Code Ocean.
    # Only the __Host- prefix (Secure, Path=/, no Domain) makes browsers refuse such a planted cookie.
    public = "https://mcp.example.org/mcp"
    key = CredentialKey.parse(CredentialKey.generate())
    http = httpx2.AsyncClient(timeout=10)
    validator = AccessTokenValidator(oidc.issuer, public, http)
    sealer = Sealer(key)

    async def check(_: SecretStr) -> str | None:
        raise LinkRefused("not used here")

    team = Team(
        validator=validator,
        public_url=public,
        scopes=("r", "w"),
        linked=LinkedTokens(key=key),
        make_client=lambda _: pytest.fail("no client is made"),
        check=check,
        sealer=sealer,
        sign_in=SignIn(validator, LinkClient("c", None, "https://mcp.example.org/link/callback"), sealer, http),
        store=ConfirmationStore(),
        concurrency=1,
    )
    app = Starlette(routes=link_routes(team))
    try:
        async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="https://mcp.example.org") as b:
            opened = await b.get("/link", params={"ticket": team.ticket(Person(oidc.issuer, "alice"))})
    finally:
        await team.aclose()
    assert opened.status_code == 303
    cookie = opened.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith("__Host-"), cookie
    assert "secure" in attributes
    assert "path=/" in attributes
    assert not any(part.startswith("domain=") for part in attributes)


# --- 2. a worker that has not fetched the provider's metadata yet answers the callback with a traceback ---------


async def test_a_callback_when_the_provider_cannot_be_reached_is_a_clear_page_not_a_500(tmp_path: Path) -> None:
    # Metadata is fetched lazily per worker. A worker that has not served /link or validated a token yet, when the
    # provider is unreachable, raises LookupError out of SignIn.finish: linkpage catches only SignInRefused and
    # LinkRefused, so the person gets Starlette's bare "Internal Server Error" and the log a traceback.
    with contextlib.ExitStack() as provider_stack:
        provider = provider_stack.enter_context(running_provider(resources=[ANY_LOCAL_MCP, OTHER_RESOURCE]))
        with deployment(tmp_path, provider, Sandbox(assets=5, seed=7, ready_delay=0.0)) as team:
            url = await link_url(team, "alice")

            def begin() -> tuple[httpx2.Client, str]:
                browser = httpx2.Client(timeout=30)
                opened = browser.get(url)
                landed = provider.sign_in(opened.headers["location"], "alice", f"{team.base}/link/callback")
                return browser, landed

            browser, landed = await anyio.to_thread.run_sync(begin)
            provider_stack.close()  # the provider goes away before the browser comes back
            team.team.validator._metadata = None  # as on another worker, which has not fetched it yet
            try:
                answer = await anyio.to_thread.run_sync(browser.get, landed)
            finally:
                browser.close()
    assert answer.status_code in (400, 503), answer.text
    assert "identity provider" in answer.text
    assert answer.headers["cache-control"] == "no-store"


# --- 3. a used link still sends the pasted token to Code Ocean before saying so ------------------------------------


async def test_a_used_link_is_refused_before_the_pasted_token_is_sent_to_code_ocean(team: Deployment) -> None:
    url = await link_url(team, "alice")
    browser, form = await anyio.to_thread.run_sync(open_link, url, team.provider, "alice")
    try:
        proof = proof_of(form)
        linked = browser.post(f"{team.base}/link", data={"proof": proof, "token": team.sandbox.token_for("alice")})
        assert linked.status_code == 200, linked.text
        asked = len(team.sandbox.request_log.entries)
        again = browser.post(f"{team.base}/link", data={"proof": proof, "token": team.sandbox.token_for("bob")})
    finally:
        browser.close()
    assert again.status_code == 400
    assert "already used" in again.text
    assert len(team.sandbox.request_log.entries) == asked  # bob's token never left co-mcp


# --- 4. linking a credential leaves no audit record -----------------------------------------------------------------


async def test_linking_a_token_on_the_page_is_audited_naming_the_person_not_the_token(team: Deployment) -> None:
    url = await link_url(team, "alice")
    browser, form = await anyio.to_thread.run_sync(open_link, url, team.provider, "alice")
    token = team.sandbox.token_for("alice")
    try:
        linked = browser.post(f"{team.base}/link", data={"proof": proof_of(form), "token": token})
    finally:
        browser.close()
    assert linked.status_code == 200, linked.text
    audit = team.state_dir / "audit.jsonl"
    lines = audit.read_text().splitlines() if audit.exists() else []
    assert any("link" in line and '"alice"' in line for line in lines), lines
    assert not any(token in line for line in lines)
