"""Team mode (CO_MCP_AUTH_ISSUER): who may call, and whose data each person's call reads.

One co-mcp in team mode on loopback (tests/server/team.py) with a real OpenID provider's tokens (tests/oidc.py)
and a sandbox over real HTTP as Code Ocean. The people alice, bob and carol are linked to the sandbox users of
the same names; alice is also linked under the other provider's issuer, so that a token of that issuer, had it
been accepted, would reach Code Ocean too.

**Unauthorised attempts**: each case has everything right but one thing: no token, garbage, a token for
another audience, from another issuer, forged (another token's signature, a swapped subject, ``alg: none``),
truncated, upper-cased or after two spaces, without any scope, a read-only token calling each write or guarded
tool (403), the right token sent as Basic credentials, without a scheme, in the query or as a cookie, a foreign
Host (421), over POST, GET and DELETE (405 whatever the token: the stateless server offers neither); and, in its
own test, an expired token (held past co-mcp's 30 s leeway: fetched when the module starts, used at its end).
The right token after a lower-case ``bearer`` is not among them: the scheme is case-insensitive (RFC 7235), so
it is a second control, which must reach Code Ocean as alice.
Witness: the sandbox's request log. Every tool makes at least one Code Ocean request for a linked person, the
write tools' previews included (create and unarchive send at once; update reads first; archive, delete, share
and transfer read for their preview), and every token in these cases names a linked person: so a request that
reached a tool would leave an entry. An authorised control must leave one.

**Cross-user reads**: the three people call ``search_data_assets``, ``get_data_asset`` (one to three ids),
``list_data_asset_files`` and ``get_data_asset_permissions`` at once (several concurrent sessions each), over a
pool of ids mixing the demo anchors (carol's private asset, alice's result, bob's asset shared with alice...),
seeded assets and an id that exists nowhere. The ground truth is asked of the sandbox directly (in-process),
with each person's own Code Ocean token, for every asset: its metadata, its permissions, its root folder, and
a search of everything. Two checks, both counted in ``team.cross_user_reads``:

- *Results*: a result shows a person an asset they cannot see if it contains an asset id or name that none of
  the sandbox's answers to their own token contains (the ids they asked about excepted: naming them back in
  an error is not a read), or if it succeeds for an id where their own token fails (files, permissions,
  get). Any other disagreement with the ground truth (hiding what they can see) fails the test too.
- *Requests*: every Code Ocean request made during the run must carry the token of the person whose call made
  it. Attribution is exact, not statistical: a call holds *turns* on the keys its requests name (each asset
  id it passes; ``search`` for a search, whose query travels in the body) and a key is held by one person's
  calls at a time (any number of them), so when the sandbox logs a request naming key K at time t, exactly one
  person held K at t. A request whose logged user is not that person is a cross-user request; one that no
  held key explains fails the test (the attribution would be incomplete).

Figures: ``team.unauthorised_reaching_a_tool`` over ``team.unauthorised_attempts`` (and counts per status),
``team.cross_user_reads`` over ``team.reads`` (and ``team.upstream_requests_attributed``).
``CO_MCP_RELIABILITY_FULL=1``: 1,000 unauthorised attempts and 900 reads over 120 assets; default 80 and 90
over 40.
"""

from __future__ import annotations

import base64
import itertools
import json
import random
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from pydantic import SecretStr

from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import (
    DEMO_ARCHIVED_ID,
    DEMO_COMBINED_ID,
    DEMO_DATASET_ID,
    DEMO_DRAFT_ID,
    DEMO_EXTERNAL_ID,
    DEMO_FAILED_ID,
    DEMO_MODEL_ID,
    DEMO_PRIVATE_ID,
    DEMO_RELEASE_ID,
    DEMO_RESULT_ID,
    DEMO_SHARED_ID,
)
from co_mcp.server.catalog import tool_specs
from tests.oidc import OTHER_RESOURCE, READ_SCOPE, Provider
from tests.reliability.figures import FULL, emit
from tests.reliability.test_http import Tally
from tests.server.team import BOTH, Deployment, deployment, mcp_as

pytestmark = [pytest.mark.anyio, pytest.mark.reliability, pytest.mark.loopback]

ATTEMPTS = 1000 if FULL else 80
ASSETS = 120 if FULL else 40
CALLS_PER_PERSON = 300 if FULL else 30
SESSIONS_PER_PERSON = 4
PEOPLE = ("alice", "bob", "carol")
LEEWAY = 30  # co_mcp.oauth.LEEWAY: an expired token is refused once this many seconds past its exp
NOWHERE_ID = "0badc0de-0000-4000-8000-00000000dead"

MCP = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def tools_call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


SEARCH = tools_call("search_data_assets", {"query": "mouse", "limit": 2})
# Each write or guarded tool with arguments it would act on (or preview) for alice: each makes a Code Ocean request.
WRITES: dict[str, dict[str, Any]] = {
    "create_data_asset": {"name": "Run 7", "source": {"kind": "s3", "bucket": "lab-bucket", "prefix": "run7"}},
    "unarchive_data_asset": {"data_asset_id": DEMO_ARCHIVED_ID},
    "update_data_asset": {"data_asset_id": DEMO_RESULT_ID, "add_tags": ["checked"]},
    "archive_data_asset": {"data_asset_ids": [DEMO_RESULT_ID]},
    "delete_data_asset": {"data_asset_ids": [DEMO_FAILED_ID]},
    "share_data_asset": {"data_asset_ids": [DEMO_RESULT_ID], "users": [{"email": "bob@example.org", "role": "viewer"}]},
    "transfer_data_asset": {"data_asset_ids": [DEMO_RESULT_ID], "bucket": "archive-bucket"},
}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, oidc: Provider) -> Iterator[Deployment]:
    sandbox = Sandbox(assets=ASSETS, seed=11, ready_delay=0.0)
    with deployment(tmp_path_factory.mktemp("team"), oidc, sandbox) as running:
        yield running


@dataclass(frozen=True)
class Expiring:
    token: str
    issued: float  # time.monotonic() when the provider issued it


@pytest.fixture(scope="module", autouse=True)
def expiring(team: Deployment) -> Expiring:
    """A token that expires a second after issue, fetched when the module starts so the wait overlaps the rest."""
    issued = time.monotonic()
    return Expiring(team.token("alice", ttl=1), issued)


def reached(team: Deployment) -> int:
    return len(team.sandbox.request_log.entries)


async def link_everyone(team: Deployment, other_oidc: Provider | None = None) -> None:
    for person in PEOPLE:
        await team.link(person)
    if other_oidc is not None:
        # The other issuer's alice is linked too: had co-mcp accepted her token, her call would reach Code Ocean.
        await team.team.linked.link(other_oidc.issuer, "alice", SecretStr(team.sandbox.token_for("alice")))


# --- unauthorised attempts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    headers: dict[str, str]
    status: int
    method: str = "POST"
    body: dict[str, Any] = field(default_factory=lambda: SEARCH)
    path: str = ""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def forged(token: str, *, header: dict[str, Any] | None = None, claims: dict[str, Any] | None = None) -> str:
    """``token`` with its header or claims changed and its signature kept (or dropped for ``alg: none``)."""
    head, payload, signature = token.split(".")
    if header is not None:
        head = b64url(json.dumps({**json.loads(unb64url(head)), **header}).encode())
        signature = "" if header.get("alg") == "none" else signature
    if claims is not None:
        payload = b64url(json.dumps({**json.loads(unb64url(payload)), **claims}).encode())
    return f"{head}.{payload}.{signature}"


def refused_cases(team: Deployment, other_oidc: Provider) -> list[Case]:
    good = team.token("alice")
    bob = team.token("bob")
    read_only = team.token("alice", (READ_SCOPE,))
    wrong_audience = team.provider.token("alice", scopes=BOTH, resource=OTHER_RESOURCE)
    other_issuer = other_oidc.token("alice", scopes=BOTH, resource=team.url)
    head, payload, _ = good.split(".")

    def bearer(token: str) -> dict[str, str]:
        return {**MCP, "Authorization": f"Bearer {token}"}

    cases = [
        Case("no token", MCP, 401),
        Case("garbage", bearer("not.a.token"), 401),
        Case("another audience", bearer(wrong_audience), 401),
        Case("another issuer", bearer(other_issuer), 401),
        Case("another token's signature", bearer(f"{head}.{payload}.{bob.split('.')[2]}"), 401),
        Case("subject swapped to bob", bearer(forged(good, claims={"sub": "bob"})), 401),
        Case("alg none", bearer(forged(good, header={"alg": "none"})), 401),
        Case("truncated", bearer(good[:-2]), 401),
        Case("no scope", bearer(team.token("alice", ())), 403),
        Case("basic", {**MCP, "Authorization": "Basic " + base64.b64encode(f"{good}:".encode()).decode()}, 401),
        Case("token in the query", MCP, 401, path=f"?access_token={good}"),
        Case("token as a cookie", {**MCP, "Cookie": f"Authorization=Bearer {good}"}, 401),
        Case("no scheme", {**MCP, "Authorization": good}, 401),
        Case("foreign Host", {**bearer(good), "Host": "evil.example"}, 421),
        # Stateless: no stream to GET, no session to DELETE; refused before the token is looked at.
        Case("GET, no token", MCP, 405, method="GET"),
        Case("GET, garbage", bearer("not.a.token"), 405, method="GET"),
        Case("DELETE, no token", MCP, 405, method="DELETE"),
        Case("DELETE, another audience", bearer(wrong_audience), 405, method="DELETE"),
        Case("two spaces", {**MCP, "Authorization": f"Bearer  {good}"}, 401),
        Case("token upper-cased", bearer(good.upper()), 401),
    ]
    writes = [spec.name for spec in tool_specs() if not spec.read_only]
    assert sorted(writes) == sorted(WRITES)  # a new write tool needs its arguments here
    cases += [Case(f"read-only {tool}", bearer(read_only), 403, body=tools_call(tool, WRITES[tool])) for tool in writes]
    return cases


async def attempt(http: httpx2.AsyncClient, url: str, case: Case, tally: Tally) -> None:
    body = json.dumps(case.body) if case.method == "POST" else None
    response = await http.request(case.method, url + case.path, content=body, headers=case.headers)
    tally.attempts += 1
    tally.statuses[response.status_code] += 1
    if response.status_code != case.status:
        tally.unexpected.append(f"{case.name}: {response.status_code}")


async def test_unauthorised_requests_in_team_mode_never_reach_a_tool(
    team: Deployment, other_oidc: Provider, capsys: pytest.CaptureFixture[str]
) -> None:
    await link_everyone(team, other_oidc)
    cases = refused_cases(team, other_oidc)
    tally = Tally()
    before = reached(team)
    async with httpx2.AsyncClient(timeout=30) as http:
        for case in itertools.islice(itertools.cycle(cases), ATTEMPTS):
            await attempt(http, team.url, case, tally)
        leaked = team.sandbox.request_log.entries[before:]
        # The control: alice's right token, the same call, does reach the tool and Code Ocean, as alice.
        right = team.token("alice")
        control = await http.post(team.url, json=SEARCH, headers={**MCP, "Authorization": f"Bearer {right}"})
        # The scheme is case-insensitive (RFC 7235, 2.1): the right token after "bearer" is authorised too.
        lower_case = await http.post(team.url, json=SEARCH, headers={**MCP, "Authorization": f"bearer {right}"})
    emit(
        capsys,
        "team",
        unauthorised_reaching_a_tool=len(leaked),
        unauthorised_attempts=tally.attempts,
        cases=len(cases),
        **{f"refused_{status}": count for status, count in sorted(tally.statuses.items())},
    )
    assert leaked == []
    assert sorted(set(tally.unexpected)) == []
    for response in (control, lower_case):
        assert response.status_code == 200, response.text
        assert "error" not in response.json()
    alice = team.sandbox.users["alice"].email
    assert [entry.user for entry in team.sandbox.request_log.entries[before:]] == [alice, alice]


# --- cross-user reads ---------------------------------------------------------------------------------------------

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ANCHORS = (
    DEMO_DATASET_ID,
    DEMO_RESULT_ID,
    DEMO_EXTERNAL_ID,
    DEMO_SHARED_ID,
    DEMO_COMBINED_ID,
    DEMO_ARCHIVED_ID,
    DEMO_DRAFT_ID,
    DEMO_FAILED_ID,
    DEMO_PRIVATE_ID,
    DEMO_RELEASE_ID,
    DEMO_MODEL_ID,
)


@dataclass
class Truth:
    """What the sandbox answers one person's own token."""

    metadata: set[str] = field(default_factory=set)  # ids whose GET succeeds
    files: set[str] = field(default_factory=set)  # ids whose root folder lists
    permissions: set[str] = field(default_factory=set)  # ids whose permissions read
    text: list[str] = field(default_factory=list)  # every string in every answer

    def said(self) -> str:
        return "\n".join(self.text)


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


async def ground_truth(sandbox: Sandbox, person: str, ids: list[str]) -> Truth:
    truth = Truth()
    credentials = base64.b64encode(f"{sandbox.token_for(person)}:".encode()).decode()
    headers = {"Authorization": f"Basic {credentials}"}
    transport = httpx2.ASGITransport(app=sandbox.app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://sandbox.test/api/v1", headers=headers) as http:

        async def keep(response: httpx2.Response, into: set[str], asset_id: str) -> None:
            if response.status_code == 200:
                into.add(asset_id)
                truth.text.extend(strings(response.json()))

        for asset_id in ids:
            await keep(await http.get(f"/data_assets/{asset_id}"), truth.metadata, asset_id)
            await keep(await http.post(f"/data_assets/{asset_id}/files", json={"path": ""}), truth.files, asset_id)
            await keep(await http.get(f"/data_assets/{asset_id}/permissions"), truth.permissions, asset_id)
        for archived in (False, True):
            found = await http.post("/data_assets/search", json={"limit": 1000, "archived": archived})
            assert found.status_code == 200
            assert not found.json()["has_more"]
            truth.text.extend(strings(found.json()))
    return truth


class Turns:
    """Per key, the calls of one person at a time (any number of them); a call takes all its keys at once."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, int]] = {}
        self._changed = anyio.Condition()

    @asynccontextmanager
    async def hold(self, person: str, keys: frozenset[str]) -> AsyncIterator[None]:
        async with self._changed:
            while any(self._held.get(key, (person, 0))[0] != person for key in keys):
                await self._changed.wait()
            for key in keys:
                self._held[key] = (person, self._held.get(key, (person, 0))[1] + 1)
        try:
            yield
        finally:
            async with self._changed:
                for key in keys:
                    holder, count = self._held[key]
                    if count == 1:
                        del self._held[key]
                    else:
                        self._held[key] = (holder, count - 1)
                self._changed.notify_all()


@dataclass(frozen=True)
class Read:
    person: str
    tool: str
    arguments: dict[str, Any]
    keys: frozenset[str]
    start: float
    end: float
    is_error: bool
    structured: dict[str, Any] | None
    text: str


def plan(person: str, pool: list[str]) -> list[tuple[str, dict[str, Any], frozenset[str]]]:
    rng = random.Random(f"team-reads-{person}")
    calls: list[tuple[str, dict[str, Any], frozenset[str]]] = []
    for _ in range(CALLS_PER_PERSON):
        kind = rng.choice(("search", "get", "get", "files", "permissions"))
        if kind == "search":
            arguments: dict[str, Any] = {"limit": rng.choice((5, 10, 25))}
            query = rng.choice(("", "mouse", "genomics", "imaging", "pbmc", "histology"))
            if query:
                arguments["query"] = query
            if rng.random() < 0.2:
                arguments["archived"] = True
            calls.append(("search_data_assets", arguments, frozenset({"search"})))
        elif kind == "get":
            ids = rng.sample(pool, rng.randint(1, 3))
            calls.append(("get_data_asset", {"data_asset_ids": ids}, frozenset(ids)))
        else:
            asset_id = rng.choice(pool)
            tool = "list_data_asset_files" if kind == "files" else "get_data_asset_permissions"
            calls.append((tool, {"data_asset_id": asset_id}, frozenset({asset_id})))
    return calls


async def run_reads(team: Deployment, pool: list[str]) -> list[Read]:
    turns = Turns()
    reads: list[Read] = []
    tokens = {person: team.token(person) for person in PEOPLE}

    async def session(person: str, calls: list[tuple[str, dict[str, Any], frozenset[str]]]) -> None:
        async with mcp_as(team.url, tokens[person]) as client:
            for tool, arguments, keys in calls:
                async with turns.hold(person, keys):
                    start = time.time()
                    result = await client.call_tool(tool, arguments)
                    end = time.time()
                said = "\n".join(getattr(block, "text", "") for block in result.content)
                structured = result.structured_content
                reads.append(Read(person, tool, arguments, keys, start, end, result.is_error, structured, said))

    async with anyio.create_task_group() as tasks:
        for person in PEOPLE:
            calls = plan(person, pool)
            for index in range(SESSIONS_PER_PERSON):
                tasks.start_soon(session, person, calls[index::SESSIONS_PER_PERSON])
    return reads


def judge(read: Read, truth: Truth, said_to_them: str, unseen: dict[str, str]) -> tuple[list[str], list[str]]:
    """(cross-user reads, other disagreements) in one result, against what the person's own token gets."""
    leaks: list[str] = []
    wrong: list[str] = []
    shown = read.text + "\n" + json.dumps(read.structured or {}, ensure_ascii=False)
    asked = set(read.keys)
    for asset_id, name in unseen.items():
        if asset_id not in asked and asset_id in shown:
            leaks.append(f"{read.person} {read.tool} {read.arguments}: shows id {asset_id}")
        if name not in said_to_them and name in shown:
            leaks.append(f"{read.person} {read.tool} {read.arguments}: shows name {name!r}")
    structured = read.structured or {}
    if read.tool == "search_data_assets":
        for found in structured.get("results", []):
            if found["id"] not in truth.metadata:
                leaks.append(f"{read.person} search {read.arguments}: found {found['id']}")
        if read.is_error:
            wrong.append(f"{read.person} search {read.arguments}: {read.text[:200]}")
    elif read.tool == "get_data_asset":
        found_ids = {asset["id"] for asset in structured.get("assets", [])}
        leaks += [f"{read.person} get: {asset_id}" for asset_id in found_ids - truth.metadata]
        if found_ids != asked & truth.metadata:
            wrong.append(f"{read.person} get {sorted(asked)}: found {sorted(found_ids)}")
    else:
        allowed = truth.files if read.tool == "list_data_asset_files" else truth.permissions
        (asset_id,) = asked
        if not read.is_error and asset_id not in allowed:
            leaks.append(f"{read.person} {read.tool} {asset_id}: answered")
        if read.is_error and asset_id in allowed:
            wrong.append(f"{read.person} {read.tool} {asset_id}: {read.text[:200]}")
    return leaks, wrong


def key_of(path: str) -> str | None:
    if path.rstrip("/").endswith("/data_assets/search"):
        return "search"
    found = UUID.search(path)
    return found.group(0) if found else None


async def test_no_person_reads_what_their_own_token_cannot(
    team: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    await link_everyone(team)
    sandbox = team.sandbox
    names = {asset.id: asset.name for asset in sandbox.store.all_assets()}
    everything = [*names, NOWHERE_ID]
    seeded = sorted(set(names) - set(ANCHORS))
    pool = [*ANCHORS, *random.Random(5).sample(seeded, min(len(seeded), 20 if FULL else 12)), NOWHERE_ID]
    truths = {person: await ground_truth(sandbox, person, everything) for person in PEOPLE}
    # The pool mixes what each person can and cannot see, and what only some of them can.
    for person in PEOPLE:
        assert 0 < len(truths[person].metadata & set(pool)) < len(pool) - 1, person
    assert DEMO_PRIVATE_ID in truths["carol"].metadata - truths["alice"].metadata - truths["bob"].metadata
    assert DEMO_SHARED_ID in truths["alice"].metadata & truths["bob"].metadata

    before = reached(team)
    reads = await run_reads(team, pool)
    requests = sandbox.request_log.entries[before:]

    leaks: list[str] = []
    wrong: list[str] = []
    said = {person: truth.said() for person, truth in truths.items()}
    unseen = {person: {key: name for key, name in names.items() if key not in said[person]} for person in PEOPLE}
    for read in reads:
        found_leaks, found_wrong = judge(read, truths[read.person], said[read.person], unseen[read.person])
        leaks += found_leaks
        wrong += found_wrong

    email = {person: sandbox.users[person].email for person in PEOPLE}
    holders: dict[str, list[Read]] = defaultdict(list)
    for read in reads:
        for key in read.keys:
            holders[key].append(read)
    unexplained: list[str] = []
    attributed = 0
    for entry in requests:
        named = key_of(entry.path)
        during = {read.person for read in holders.get(named or "", []) if read.start <= entry.at <= read.end}
        if len(during) != 1:
            unexplained.append(f"{entry.method} {entry.path} at {entry.at} by {entry.user}: held by {during}")
            continue
        attributed += 1
        (person,) = during
        if entry.user != email[person]:
            leaks.append(f"{person}'s call sent {entry.method} {entry.path} as {entry.user}")

    emit(
        capsys,
        "team",
        cross_user_reads=len(leaks),
        reads=len(reads),
        upstream_requests_attributed=attributed,
        people=len(PEOPLE),
        assets=len(names),
    )
    assert leaks == []
    assert wrong == []
    assert unexplained == []
    assert len(reads) == len(PEOPLE) * CALLS_PER_PERSON
    assert {entry.user for entry in requests} == set(email.values())


# --- the expired token: last, so the module's other tests fill most of the wait -----------------------------------


@pytest.mark.slow
async def test_an_expired_token_reaches_no_tool(
    team: Deployment, expiring: Expiring, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    await team.link("alice")
    leeway = LEEWAY
    if not FULL:
        # The deployment runs in this process: the default run allows no clock skew, so it need not wait 30 s.
        monkeypatch.setattr("co_mcp.oauth.LEEWAY", 0)
        leeway = 0
    await anyio.sleep(max(0.0, expiring.issued + 1 + leeway + 1.5 - time.monotonic()))
    tally = Tally()
    case = Case("expired", {**MCP, "Authorization": f"Bearer {expiring.token}"}, 401)
    before = reached(team)
    async with httpx2.AsyncClient(timeout=30) as http:
        for _ in range(ATTEMPTS // 10):
            await attempt(http, team.url, case, tally)
    leaked = reached(team) - before
    emit(capsys, "team", expired_reaching_a_tool=leaked, expired_attempts=tally.attempts)
    assert leaked == 0
    assert sorted(set(tally.unexpected)) == []
