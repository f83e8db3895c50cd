"""The streamable HTTP transport's guards: Host and Origin checks, the bearer token, the body size limit.

Served on 127.0.0.1 as ``co-mcp --transport http`` would serve it: loopback (DNS-rebinding protection
by the SDK: 421 for a foreign Host, 403 for a foreign Origin), and configured for a public host name
(allowed hosts, allowed origins and ``CO_MCP_HTTP_TOKEN``), reached with that Host header. The sandbox's
request log is the witness: a request that reached a tool made an upstream request.

The body limit is co_mcp's ``MAX_REQUEST_BODY`` (1 MiB, below the mcp SDK's 4 MiB default). A body over
it is refused with 413 before it is parsed, whether it declares its length or comes chunked.

Figures: ``http.unauthorised_reaching_a_tool`` over ``http.unauthorised_attempts`` (missing, wrong,
truncated, mis-cased or misplaced tokens, Basic credentials, foreign Host or Origin; POST, GET and
DELETE), with an authorised control that must reach the tool; ``http.oversized_reaching_a_tool``.
``CO_MCP_RELIABILITY_FULL=1``: 1,000 unauthorised attempts; default 60.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx2
import pytest

from co_mcp.config import Settings
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import serving
from co_mcp.server import MAX_REQUEST_BODY, build_server, http_app
from tests.conftest import client_for
from tests.reliability.figures import FULL, emit

pytestmark = [pytest.mark.anyio, pytest.mark.reliability, pytest.mark.loopback]

TOKEN = "http-bearer-reliability-0123456789abcdef"
PUBLIC_HOST = "mcp.example.org"
ORIGIN = "https://app.example.org"
ATTEMPTS = 1000 if FULL else 60

MCP = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "search_data_assets", "arguments": {"query": "rna", "limit": 2}},
}
GOOD = {**MCP, "Host": PUBLIC_HOST, "Authorization": f"Bearer {TOKEN}"}


@contextmanager
def loopback(sandbox: Sandbox) -> Iterator[str]:
    """The MCP endpoint as bound on 127.0.0.1 with only a bearer token: the SDK's loopback Host/Origin checks."""
    server = build_server(lambda: client_for(sandbox))
    with serving(http_app(server, Settings(http_token=TOKEN), "127.0.0.1"), lifespan="on") as base_url:
        yield f"{base_url}/mcp"


@contextmanager
def exposed(sandbox: Sandbox) -> Iterator[str]:
    """The MCP endpoint configured for a public host name (allowed hosts, origins, bearer token)."""
    server = build_server(lambda: client_for(sandbox))
    settings = Settings(allowed_hosts=[PUBLIC_HOST], allowed_origins=[ORIGIN], http_token=TOKEN)
    with serving(http_app(server, settings, PUBLIC_HOST), lifespan="on") as base_url:
        yield f"{base_url}/mcp"


def reached(sandbox: Sandbox) -> int:
    return len(sandbox.request_log.entries)


# --- Host and Origin --------------------------------------------------------------------------------


async def test_on_loopback_a_foreign_host_is_421_a_foreign_origin_403_and_neither_reaches_a_tool(
    sandbox: Sandbox,
) -> None:
    with loopback(sandbox) as url:
        port = url.split(":")[2].split("/")[0]
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            foreign_host = await http.post(url, json=CALL, headers={**MCP, "Host": "evil.example"})
            rebinding = await http.post(url, json=CALL, headers={**MCP, "Host": f"evil.example:{port}"})
            foreign_origin = await http.post(url, json=CALL, headers={**MCP, "Origin": "https://evil.example"})
            assert reached(sandbox) == 0
            local_origin = await http.post(url, json=CALL, headers={**MCP, "Origin": f"http://localhost:{port}"})
    assert (foreign_host.status_code, rebinding.status_code, foreign_origin.status_code) == (421, 421, 403)
    assert local_origin.status_code == 200
    assert reached(sandbox) == 1


@dataclass(frozen=True)
class Case:
    name: str
    headers: dict[str, str]
    status: int
    method: str = "POST"
    path: str = ""


# Each with every other header right: only the named thing is wrong.
REFUSED = [
    Case("no token", {**MCP, "Host": PUBLIC_HOST}, 401),
    Case("wrong token", {**GOOD, "Authorization": "Bearer not-the-token"}, 401),
    Case("truncated token", {**GOOD, "Authorization": f"Bearer {TOKEN[:-1]}"}, 401),
    Case("token plus one", {**GOOD, "Authorization": f"Bearer {TOKEN}x"}, 401),
    Case("lower-case scheme", {**GOOD, "Authorization": f"bearer {TOKEN}"}, 401),
    Case("two spaces", {**GOOD, "Authorization": f"Bearer  {TOKEN}"}, 401),
    Case("no scheme", {**GOOD, "Authorization": TOKEN}, 401),
    Case("basic", {**GOOD, "Authorization": "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()}, 401),
    Case("token in the query", {**MCP, "Host": PUBLIC_HOST}, 401, path=f"?access_token={TOKEN}"),
    Case("token as a cookie", {**MCP, "Host": PUBLIC_HOST, "Cookie": f"Authorization=Bearer {TOKEN}"}, 401),
    Case("GET without token", {**MCP, "Host": PUBLIC_HOST}, 401, method="GET"),
    Case("DELETE without token", {**MCP, "Host": PUBLIC_HOST}, 401, method="DELETE"),
    Case("loopback Host", {**GOOD, "Host": "127.0.0.1"}, 421),
    Case("foreign Host", {**GOOD, "Host": "evil.example"}, 421),
    Case("allowed name, other port", {**GOOD, "Host": f"{PUBLIC_HOST}:8443"}, 421),
    Case("foreign Origin", {**GOOD, "Origin": "https://evil.example"}, 403),
    Case("look-alike Origin", {**GOOD, "Origin": f"{ORIGIN}.evil.example"}, 403),
]


@dataclass
class Tally:
    attempts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)


async def attempt(http: httpx2.AsyncClient, url: str, case: Case, tally: Tally) -> None:
    body = json.dumps(CALL) if case.method == "POST" else None
    response = await http.request(case.method, url + case.path, content=body, headers=case.headers)
    tally.attempts += 1
    tally.statuses[response.status_code] += 1
    if response.status_code != case.status:
        tally.unexpected.append(f"{case.name}: {response.status_code}")


async def test_off_localhost_unauthorised_requests_never_reach_a_tool(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()
    with exposed(sandbox) as url:
        async with httpx2.AsyncClient() as http:
            for case in itertools.islice(itertools.cycle(REFUSED), ATTEMPTS):
                await attempt(http, url, case, tally)
            leaked = reached(sandbox)
            # The control: the same call, authorised, from the allowed origin, does reach the tool.
            control = await http.post(url, json=CALL, headers={**GOOD, "Origin": ORIGIN})
    emit(
        capsys,
        "http",
        unauthorised_reaching_a_tool=leaked,
        unauthorised_attempts=tally.attempts,
        refused_401=tally.statuses[401],
        refused_421=tally.statuses[421],
        refused_403=tally.statuses[403],
    )
    assert leaked == 0
    assert tally.unexpected == []
    assert control.status_code == 200
    assert "error" not in control.json()
    assert reached(sandbox) == 1


async def test_the_refusals_say_why_and_leak_nothing(sandbox: Sandbox) -> None:
    with exposed(sandbox) as url:
        async with httpx2.AsyncClient() as http:
            missing = await http.post(url, json=CALL, headers={**MCP, "Host": PUBLIC_HOST})
            host = await http.post(url, json=CALL, headers={**GOOD, "Host": "evil.example"})
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "CO_MCP_HTTP_TOKEN" in missing.text
    for response in (missing, host):
        assert TOKEN not in response.text
        assert sandbox.token_for("alice") not in response.text


# --- the body size limit ----------------------------------------------------------------------------


def padded_call(size: int) -> bytes:
    """A valid tools/call of exactly ``size`` bytes (JSON allows trailing whitespace)."""
    body = json.dumps(CALL).encode()
    return body + b" " * (size - len(body))


async def test_a_body_over_the_limit_is_413_and_reaches_nothing(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    limit = MAX_REQUEST_BODY

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit must hold while reading
        body = padded_call(limit + 1)
        for start in range(0, len(body), 1 << 20):
            yield body[start : start + (1 << 20)]

    with exposed(sandbox) as url:
        async with httpx2.AsyncClient(timeout=30) as http:
            declared = await http.post(url, content=padded_call(limit + 1), headers=GOOD)
            chunked = await http.post(url, content=chunks(), headers=GOOD)
            oversized_reaching = reached(sandbox)
            at_limit = await http.post(url, content=padded_call(limit), headers=GOOD)
    emit(
        capsys,
        "http",
        max_request_body_bytes=limit,
        oversized_reaching_a_tool=oversized_reaching,
        oversized_status=declared.status_code,
    )
    assert (declared.status_code, chunked.status_code) == (413, 413)
    assert oversized_reaching == 0
    assert at_limit.status_code == 200
    assert reached(sandbox) == 1
