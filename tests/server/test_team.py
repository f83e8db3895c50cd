"""Team mode end to end: a real OpenID provider's tokens (tests/oidc.py), co-mcp's HTTP app on loopback, and a
sandbox over real HTTP as Code Ocean. Each person acts with their own Code Ocean token, and only theirs."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_DATASET_ID, DEMO_RESULT_ID
from tests.oidc import READ_SCOPE, WRITE_SCOPE, Provider
from tests.server.team import Deployment, deployment, mcp_as, open_link, post_mcp, proof_of
from tests.support import text

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LIST_TOOLS = {"method": "tools/list", "params": {}}


def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"method": "tools/call", "params": {"name": tool, "arguments": arguments}}


@pytest.fixture
def team(tmp_path: Path, oidc: Provider) -> Iterator[Deployment]:
    with deployment(tmp_path, oidc, Sandbox(assets=40, seed=7, ready_delay=0.0)) as running:
        yield running


def challenge(response: httpx2.Response) -> dict[str, str]:
    header = response.headers.get("www-authenticate", "")
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


# --- who may call: the resource server ----------------------------------------------------------------------


async def test_the_protected_resource_metadata_names_the_issuer_and_both_scopes(team: Deployment) -> None:
    async with httpx2.AsyncClient() as http:
        found = await http.get(f"{team.base}/.well-known/oauth-protected-resource/mcp")
    assert found.status_code == 200
    document = found.json()
    assert document["resource"] == team.url
    assert document["authorization_servers"] == [team.provider.issuer]
    assert document["scopes_supported"] == [READ_SCOPE, WRITE_SCOPE]


async def test_no_token_is_refused_with_401_naming_the_metadata(team: Deployment) -> None:
    refused = await post_mcp(team.url, None, LIST_TOOLS)
    assert refused.status_code == 401
    said = challenge(refused)
    assert said["resource_metadata"] == f"{team.base}/.well-known/oauth-protected-resource/mcp"
    assert said["scope"].split() == [READ_SCOPE, WRITE_SCOPE]


@pytest.mark.parametrize("kind", ["wrong audience", "expired", "garbage", "the shared bearer of single-user mode"])
async def test_tokens_co_mcp_must_not_accept_are_refused_with_401(
    team: Deployment, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind == "wrong audience":
        token = team.provider.token("alice", scopes=[READ_SCOPE, WRITE_SCOPE], resource="https://other.example/mcp")
    elif kind == "expired":
        # co-mcp allows 30 s for clock skew (the deployment runs in this process): none here, so 1 s expires it.
        monkeypatch.setattr("co_mcp.oauth.LEEWAY", 0)
        token = team.token("alice", ttl=1)
        await anyio.sleep(2.1)
    elif kind == "garbage":
        token = "not.a.token"
    else:
        token = "replace-with-the-output-of-openssl-rand-hex-32"
    refused = await post_mcp(team.url, token, LIST_TOOLS)
    assert refused.status_code == 401, refused.text
    assert challenge(refused)["error"] == "invalid_token"


async def test_a_token_of_another_issuer_is_refused_with_401(team: Deployment, other_oidc: Provider) -> None:
    token = other_oidc.token("alice", scopes=[READ_SCOPE, WRITE_SCOPE], resource=team.url)
    refused = await post_mcp(team.url, token, LIST_TOOLS)
    assert refused.status_code == 401
    assert "resource_metadata" in challenge(refused)


async def test_a_write_tool_without_the_write_scope_is_refused_with_403_naming_the_scopes(team: Deployment) -> None:
    await team.link("alice")
    token = team.token("alice", (READ_SCOPE,))
    refused = await post_mcp(team.url, token, call("archive_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]}))
    assert refused.status_code == 403
    said = challenge(refused)
    assert said["error"] == "insufficient_scope"
    assert said["scope"].split() == [READ_SCOPE, WRITE_SCOPE]
    assert said["resource_metadata"].endswith("/.well-known/oauth-protected-resource/mcp")
    assert not team.sandbox.request_log.entries  # nothing reached Code Ocean
    async with mcp_as(team.url, token) as client:
        result = await client.call_tool("get_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]})
    assert not result.is_error  # reading needs only the read scope


async def test_a_token_without_the_read_scope_is_refused_with_403(team: Deployment) -> None:
    refused = await post_mcp(team.url, team.token("alice", ()), LIST_TOOLS)
    assert refused.status_code == 403
    assert challenge(refused)["error"] == "insufficient_scope"


# --- each person, their own Code Ocean token ---------------------------------------------------------------------


async def test_alice_sees_her_private_asset_and_bob_does_not(team: Deployment) -> None:
    await team.link("alice")
    await team.link("bob")
    async with mcp_as(team.url, team.token("alice")) as alice:
        hers = await alice.call_tool("get_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]})
    async with mcp_as(team.url, team.token("bob")) as bob:
        his = await bob.call_tool("get_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]})
    assert not hers.is_error
    assert DEMO_RESULT_ID in text(hers)
    assert his.is_error
    assert "not shared with you" in text(his)
    users = {entry.user for entry in team.sandbox.request_log.matching(path_prefix="/api/v1/data_assets/")}
    assert users == {team.sandbox.users["alice"].email, team.sandbox.users["bob"].email}


async def test_every_request_to_code_ocean_carries_the_callers_own_token(team: Deployment) -> None:
    await team.link("alice")
    await team.link("bob")

    async def search_as(person: str) -> None:
        async with mcp_as(team.url, team.token(person)) as client:
            for _ in range(3):
                assert not (await client.call_tool("search_data_assets", {"limit": 2})).is_error

    before = len(team.sandbox.request_log.entries)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(search_as, "alice")
        tasks.start_soon(search_as, "bob")
    entries = team.sandbox.request_log.entries[before:]
    emails = [entry.user for entry in entries]
    assert emails.count(team.sandbox.users["alice"].email) == 3
    assert emails.count(team.sandbox.users["bob"].email) == 3


async def test_audit_lines_name_the_person(team: Deployment) -> None:
    await team.link("alice")
    async with mcp_as(team.url, team.token("alice")) as alice:
        result = await alice.call_tool("update_data_asset", {"data_asset_id": DEMO_RESULT_ID, "add_tags": ["k"]})
    assert not result.is_error, text(result)
    lines = team.audit.read()
    assert lines
    assert {(line["subject"], line["issuer"]) for line in lines} == {("alice", team.provider.issuer)}


async def test_alices_confirm_token_cannot_confirm_bobs_call(team: Deployment) -> None:
    await team.link("alice")
    await team.link("bob", "alice")  # even with one Code Ocean account behind both people
    arguments = {"data_asset_ids": [DEMO_DATASET_ID]}
    async with mcp_as(team.url, team.token("alice")) as alice:
        preview = await alice.call_tool("archive_data_asset", arguments)
    assert preview.structured_content is not None
    token = preview.structured_content["confirm_token"]
    async with mcp_as(team.url, team.token("bob")) as bob:
        refused = await bob.call_tool("archive_data_asset", {**arguments, "confirm_token": token})
    assert "belongs to a different action" in text(refused)
    assert not team.sandbox.request_log.matching(method="PATCH")


# --- linking ------------------------------------------------------------------------------------------------------


async def test_without_a_linked_token_a_client_that_opens_urls_gets_a_url_elicitation(
    team: Deployment, mode: str
) -> None:
    async def never(*_: Any) -> Any:
        raise AssertionError("a URL elicitation is an error to the call, not a request to the client")

    async with mcp_as(team.url, team.token("alice"), elicitation_callback=never, mode=mode) as alice:
        with pytest.raises(MCPError) as raised:
            await alice.call_tool("search_data_assets", {"limit": 1})
    assert raised.value.error.code == -32042
    data = raised.value.error.data
    assert data is not None
    (ask,) = data["elicitations"]
    assert ask["mode"] == "url"
    assert ask["url"].startswith(f"{team.base}/link?ticket=")
    assert ask["url"] in raised.value.error.message  # a client that cannot open it still shows where to go
    assert not team.sandbox.request_log.entries


async def test_without_a_linked_token_a_plain_client_gets_an_error_naming_the_page(team: Deployment, mode: str) -> None:
    async with mcp_as(team.url, team.token("alice"), mode=mode) as alice:
        try:
            result = await alice.call_tool("search_data_assets", {"limit": 1})
        except MCPError as exc:
            said = exc.error.message
        else:
            assert result.is_error
            said = text(result)
    assert f"{team.base}/link?ticket=" in said
    assert "never into this chat" in said


async def link_page(team: Deployment, person: str) -> str:
    """The link URL co-mcp gives ``person`` when they have no token linked."""
    async with mcp_as(team.url, team.token(person)) as client:
        try:
            result = await client.call_tool("search_data_assets", {"limit": 1})
            said = text(result)
        except MCPError as exc:
            said = exc.error.message
    found = re.search(r"(http://\S+/link\?ticket=\S+)", said)
    assert found is not None, said
    return found.group(1)


async def test_the_link_page_refuses_a_token_code_ocean_rejects_and_links_a_good_one(team: Deployment) -> None:
    url = await link_page(team, "alice")
    assert "alice" not in url  # the ticket is sealed: the link names no one
    browser, form = await anyio.to_thread.run_sync(open_link, url, team.provider, "alice")
    try:
        assert form.status_code == 200, form.text
        assert "Signed in as <b>alice</b>" in form.text
        assert form.headers["cache-control"] == "no-store"
        proof = proof_of(form)
        bad = browser.post(f"{team.base}/link", data={"proof": proof, "token": "cop_not_a_token"})
        assert bad.status_code == 400
        assert "did not accept this token" in bad.text
        assert await team.team.linked.token_for(team.provider.issuer, "alice") is None
        assert team.sandbox.request_log.matching(status=401)  # the check asked Code Ocean
        good = browser.post(f"{team.base}/link", data={"proof": proof, "token": team.sandbox.token_for("alice")})
        assert good.status_code == 200, good.text
        again = browser.post(f"{team.base}/link", data={"proof": proof, "token": team.sandbox.token_for("bob")})
        assert again.status_code == 400
        assert "already used" in again.text
    finally:
        browser.close()
    async with mcp_as(team.url, team.token("alice")) as alice:
        result = await alice.call_tool("get_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]})
    assert not result.is_error


async def test_a_link_opened_by_someone_else_is_refused_after_their_sign_in(team: Deployment) -> None:
    # bob's link, forwarded to alice: she signs in as herself, and the page will not take her token for bob.
    url = await link_page(team, "bob")
    browser, refused = await anyio.to_thread.run_sync(open_link, url, team.provider, "alice")
    browser.close()
    assert refused.status_code == 403
    assert "made for someone else" in refused.text
    assert 'name="proof"' not in refused.text
    assert not await team.team.linked.linked()


async def test_a_form_proof_works_only_in_the_browser_that_signed_in(team: Deployment) -> None:
    url = await link_page(team, "alice")
    browser, form = await anyio.to_thread.run_sync(open_link, url, team.provider, "alice")
    browser.close()
    async with httpx2.AsyncClient() as elsewhere:  # no cookie: another browser, or a replayed form
        posted = await elsewhere.post(
            f"{team.base}/link", data={"proof": proof_of(form), "token": team.sandbox.token_for("alice")}
        )
    assert posted.status_code == 400
    assert not await team.team.linked.linked()


async def test_a_sign_in_callback_replayed_in_another_browser_is_refused(team: Deployment) -> None:
    url = await link_page(team, "alice")

    def replay() -> httpx2.Response:
        with httpx2.Client(timeout=30) as browser:
            opened = browser.get(url)
            landed = team.provider.sign_in(opened.headers["location"], "alice", f"{team.base}/link/callback")
        with httpx2.Client(timeout=30) as other:
            return other.get(landed)

    refused = await anyio.to_thread.run_sync(replay)
    assert refused.status_code == 400
    assert "not started in this browser" in refused.text


@pytest.mark.parametrize("ticket", ["", "nonsense", "0123456789abcdef.AAAA", "x" * 20_000])
async def test_the_link_page_refuses_tickets_co_mcp_did_not_make(team: Deployment, ticket: str) -> None:
    async with httpx2.AsyncClient() as http:
        shown = await http.get(f"{team.base}/link", params={"ticket": ticket})
        posted = await http.post(f"{team.base}/link", data={"proof": ticket, "token": team.sandbox.token_for("bob")})
    assert shown.status_code == 400
    assert posted.status_code in (400, 413)  # refused, or too large to read
    assert not await team.team.linked.linked()


async def test_the_link_form_is_read_only_up_to_its_cap(team: Deployment) -> None:
    async with httpx2.AsyncClient() as http:
        large = await http.post(f"{team.base}/link", content=b"proof=" + b"x" * 100_000)
        many = await http.post(f"{team.base}/link", content=b"a=1&b=2&c=3&d=4&e=5&f=6")
    assert large.status_code == 413
    assert many.status_code == 400


async def test_a_revoked_code_ocean_token_says_link_your_token_again(team: Deployment) -> None:
    await team.link("alice")
    team.sandbox.revoke("alice")
    async with mcp_as(team.url, team.token("alice")) as alice:
        try:
            result = await alice.call_tool("search_data_assets", {"limit": 1})
            said = text(result)
        except MCPError as exc:
            said = exc.error.message
    assert "link your token again" in said
    assert f"{team.base}/link?ticket=" in said


# --- fairness ------------------------------------------------------------------------------------------------------


async def test_one_persons_storm_waits_on_itself_not_on_the_others(tmp_path: Path, oidc: Provider) -> None:
    sandbox = Sandbox(assets=20, seed=3, ready_delay=0.0, faults="latency:300ms@search")
    with deployment(tmp_path, oidc, sandbox, subject_concurrency=2) as team:
        await team.link("alice")
        await team.link("bob")
        alice_token, bob_token = team.token("alice"), team.token("bob")
        finished: dict[str, float] = {}

        async def alice_search(index: int) -> None:
            async with mcp_as(team.url, alice_token) as alice:
                await alice.call_tool("search_data_assets", {"limit": 1})
            finished[f"alice{index}"] = time.monotonic()

        async def bob_search() -> None:
            await anyio.sleep(0.2)
            async with mcp_as(team.url, bob_token) as bob:
                await bob.call_tool("search_data_assets", {"limit": 1})
            finished["bob"] = time.monotonic()

        async with anyio.create_task_group() as tasks:
            for index in range(8):
                tasks.start_soon(alice_search, index)
            tasks.start_soon(bob_search)
    alice_email = sandbox.users["alice"].email
    searches = [entry for entry in sandbox.request_log.entries if entry.operation == "search"]
    # Never more than two of alice's searches at Code Ocean at once.
    starts = sorted(entry.at for entry in searches if entry.user == alice_email)
    assert all(later - earlier >= 0.25 for earlier, later in zip(starts, starts[2:], strict=False))
    # Bob did not queue behind alice's eight: he finished before her last ones.
    assert finished["bob"] < max(value for key, value in finished.items() if key.startswith("alice"))


# --- nothing leaks --------------------------------------------------------------------------------------------------


async def test_no_code_ocean_or_access_token_appears_in_results_audit_logs_or_the_database(
    team: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    await team.link("alice")
    access = team.token("alice")
    seen: list[str] = []
    async with mcp_as(team.url, access) as alice:
        calls: list[tuple[str, dict[str, Any]]] = [
            ("search_data_assets", {"limit": 3}),
            ("get_data_asset", {"data_asset_ids": [DEMO_RESULT_ID, "00000000-0000-4000-8000-000000000000"]}),
            ("archive_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]}),
            ("update_data_asset", {"data_asset_id": DEMO_RESULT_ID, "add_tags": ["x"]}),
        ]
        for tool, arguments in calls:
            result = await alice.call_tool(tool, arguments)
            seen.append(json.dumps(result.model_dump(mode="json")))
    team.sandbox.revoke("alice")
    async with mcp_as(team.url, access) as alice:
        try:
            seen.append(json.dumps((await alice.call_tool("search_data_assets", {})).model_dump(mode="json")))
        except MCPError as exc:
            seen.append(json.dumps(exc.error.model_dump(mode="json")))
    secret = team.sandbox.token_for("alice")
    places = {
        "results": "\n".join(seen),
        "audit": (team.state_dir / "audit.jsonl").read_text(),
        "logs": caplog.text,
    }
    raw = b"".join(path.read_bytes() for path in team.state_dir.glob("state.sqlite3*"))
    for name, found in places.items():
        assert secret not in found, name
        assert access not in found, name
    assert secret.encode() not in raw
    assert access.encode() not in raw


# --- the 2026-07-28 question's sealed state is bound to the person asked -------------------------------------

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
}


async def post_2026(url: str, token: str, params: dict[str, Any]) -> dict[str, Any]:
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": params["name"],
        "Authorization": f"Bearer {token}",
    }
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {**params, "_meta": META}}
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(url, json=message, headers=headers)
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize("answered_by", ["alice", "bob"])
async def test_an_answer_to_alices_question_acts_only_in_alices_requests(team: Deployment, answered_by: str) -> None:
    await team.link("alice")
    await team.link("bob", "alice")  # the same Code Ocean account: only the person differs
    call_params = {"name": "archive_data_asset", "arguments": {"data_asset_ids": [DEMO_RESULT_ID]}}
    asked = (await post_2026(team.url, team.token("alice"), call_params))["result"]
    assert asked["resultType"] == "input_required", asked
    (key,) = asked["inputRequests"]
    answer = {
        **call_params,
        "inputResponses": {key: {"action": "accept", "content": {"confirm": True}}},
        "requestState": asked["requestState"],
    }
    replied = await post_2026(team.url, team.token(answered_by), answer)
    archived = team.sandbox.request_log.matching(method="PATCH", committed=True)
    if answered_by == "alice":
        assert replied["result"].get("isError") is not True, replied
        assert len(archived) == 1
    else:
        assert replied["error"]["data"]["reason"] == "invalid_request_state", replied
        assert not archived


async def test_resources_and_completions_act_for_the_person_too(team: Deployment) -> None:
    await team.link("alice")
    await team.link("bob")
    uri = f"codeocean://data-assets/{DEMO_RESULT_ID}"
    async with mcp_as(team.url, team.token("alice")) as alice:
        hers = await alice.read_resource(uri)
    async with mcp_as(team.url, team.token("bob")) as bob:
        with pytest.raises(MCPError):
            await bob.read_resource(uri)
    assert DEMO_RESULT_ID in hers.contents[0].text  # type: ignore[union-attr]
    reads = team.sandbox.request_log.matching(path_prefix=f"/api/v1/data_assets/{DEMO_RESULT_ID}")
    assert [entry.user for entry in reads] == [team.sandbox.users["alice"].email, team.sandbox.users["bob"].email]


# --- an MCP host's own OAuth client: discovery from the 401, registration, sign-in, token -------------------


class Memory:
    """The SDK OAuth client's token storage, in memory."""

    def __init__(self) -> None:
        self.tokens: Any = None
        self.client: Any = None

    async def get_tokens(self) -> Any:
        return self.tokens

    async def set_tokens(self, tokens: Any) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> Any:
        return self.client

    async def set_client_info(self, client_info: Any) -> None:
        self.client = client_info


async def test_the_mcp_sdks_oauth_client_finds_the_provider_signs_in_and_calls_a_tool(team: Deployment) -> None:
    from urllib.parse import parse_qs, urlsplit

    from mcp.client.auth import OAuthClientProvider
    from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

    await team.link("alice")
    redirect_uri = "http://127.0.0.1:9/callback"  # never served: the browser's redirect is read, not followed
    landed: list[str] = []

    async def open_browser(url: str) -> None:
        assert url.startswith(team.provider.issuer)
        landed.append(await anyio.to_thread.run_sync(team.provider.sign_in, url, "alice", redirect_uri))

    async def back_from_browser() -> AuthorizationCodeResult:
        query = {name: values[0] for name, values in parse_qs(urlsplit(landed[-1]).query).items()}
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    storage = Memory()
    oauth = OAuthClientProvider(
        server_url=team.url,
        client_metadata=OAuthClientMetadata(
            client_name="an MCP host",
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=open_browser,
        callback_handler=back_from_browser,
    )
    http = httpx2.AsyncClient(auth=oauth, timeout=60)
    async with http, Client(streamable_http_client(team.url, http_client=http)) as client:
        found = await client.call_tool("get_data_asset", {"data_asset_ids": [DEMO_RESULT_ID]})
    assert not found.is_error, text(found)
    assert len(landed) == 1  # one sign-in
    granted = set(storage.tokens.scope.split())
    assert {READ_SCOPE, WRITE_SCOPE} <= granted  # it asked for what the metadata lists
    users = {entry.user for entry in team.sandbox.request_log.entries}
    assert users == {team.sandbox.users["alice"].email}
