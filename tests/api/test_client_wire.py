"""Wire-level client behaviour against scripted responses (httpx2.MockTransport handlers, no patching).

The sandbox covers the API's behaviour; these pin what only a hostile or odd server shows: HTML error
pages, numeric cursors, float epochs, looping cursors, and exactly which bytes leave the process.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2
import pytest

from co_mcp.api import CodeOceanClient, RetryEvent, RetryPolicy
from co_mcp.api.models import DataAssetParams, DataAssetSearchParams, DataAssetUpdateParams, Source
from co_mcp.errors import (
    AuthenticationError,
    ConflictError,
    ConnectError,
    CreateOutcomeUnknownError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    WriteOutcomeUnknownError,
)

pytestmark = pytest.mark.anyio

TOKEN = "cop_wire_secret_token"
ASSET_ID = "0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11"
FAST = RetryPolicy(attempts=4, timeout=5.0, wait_initial=0.0, wait_max=0.0, wait_jitter=0.0, max_retry_after=0.01)

Handler = Callable[[httpx2.Request], httpx2.Response]


def asset(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ASSET_ID,
        "created": 1700000000,
        "name": "scRNA-seq PBMC",
        "mount": "pbmc",
        "last_used": 0,
        "owner": "7b3c1c9e-0000-4000-8000-000000000001",
        "state": "ready",
        "type": "dataset",
    }
    body.update(overrides)
    return body


class Recorder:
    """A scripted server: answers requests in order and keeps every request it saw."""

    def __init__(self, *responses: httpx2.Response | Exception | Handler) -> None:
        self._responses: Iterator[httpx2.Response | Exception | Handler] = iter(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = next(self._responses)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply


def client_for(recorder: Recorder, **kwargs: Any) -> CodeOceanClient:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("reconcile_delays", (0.0,))
    return CodeOceanClient("https://co.example.org", TOKEN, transport=httpx2.MockTransport(recorder), **kwargs)


async def test_get_sends_basic_auth_with_token_as_username_and_agent_id() -> None:
    recorder = Recorder(httpx2.Response(200, json=asset()))
    async with client_for(recorder, agent_id="my-pipeline") as client:
        await client.get_data_asset(ASSET_ID)
    request = recorder.requests[0]
    assert request.url == f"https://co.example.org/api/v1/data_assets/{ASSET_ID}"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
    assert request.headers["Agent-Id"] == "my-pipeline"


@pytest.mark.parametrize("bad_id", ["../capsules/abc", "a b?x=1#frag", "", "0d9f5a4e", "x" * 500])
async def test_an_id_that_is_not_a_uuid_is_refused_before_any_request(bad_id: str) -> None:
    recorder = Recorder()
    async with client_for(recorder) as client:
        with pytest.raises(InvalidArgumentError, match="data_asset_id: must be a UUID"):
            await client.get_data_asset(bad_id)
    assert recorder.requests == []


async def test_an_uppercase_uuid_is_sent_in_canonical_form() -> None:
    recorder = Recorder(httpx2.Response(200, json=asset()))
    async with client_for(recorder) as client:
        await client.get_data_asset(ASSET_ID.upper())
    assert recorder.requests[0].url.path == f"/api/v1/data_assets/{ASSET_ID}"


async def test_combined_create_refuses_a_bad_member_id_before_sending() -> None:
    recorder = Recorder()
    params = DataAssetParams(name="n", mount="m", data_asset_ids=[ASSET_ID, "../../capsules"])
    async with client_for(recorder) as client:
        with pytest.raises(InvalidArgumentError, match=r"data_asset_ids\[1\]"):
            await client.create_data_asset(params)
    assert recorder.requests == []


async def test_a_float_created_a_string_size_and_a_numeric_next_token_are_accepted() -> None:
    page = {"has_more": True, "next_token": 12345, "results": [asset(created=1700000000.5, size="1024")]}
    recorder = Recorder(httpx2.Response(200, json=page))
    async with client_for(recorder) as client:
        results = await client.search_data_assets(DataAssetSearchParams(query="pbmc"))
    assert results.next_token == "12345"
    assert results.results[0].created == 1700000000
    assert results.results[0].size == 1024


async def test_an_unknown_state_and_unknown_keys_do_not_fail_the_response() -> None:
    recorder = Recorder(httpx2.Response(200, json=asset(state="archiving", brand_new_field={"x": 1})))
    async with client_for(recorder) as client:
        result = await client.get_data_asset(ASSET_ID)
    assert result.state == "archiving"
    assert result.is_settled


async def test_search_sends_every_key_with_null_for_unset_like_the_sdk() -> None:
    recorder = Recorder(httpx2.Response(200, json={"has_more": False, "results": []}))
    async with client_for(recorder) as client:
        await client.search_data_assets(DataAssetSearchParams(query="rna", limit=3))
    body = json.loads(recorder.requests[0].content)
    assert body["query"] == "rna"
    assert body["limit"] == 3
    assert body["next_token"] is None
    assert set(body) == {
        "query", "next_token", "offset", "limit", "sort_field", "sort_order",
        "type", "ownership", "origin", "favorite", "archived", "filters",
    }  # fmt: skip


async def test_update_sends_null_for_fields_left_unchanged() -> None:
    recorder = Recorder(httpx2.Response(200, json=asset(name="new name")))
    async with client_for(recorder) as client:
        await client.update_data_asset(ASSET_ID, DataAssetUpdateParams(name="new name"))
    body = json.loads(recorder.requests[0].content)
    assert body == {
        "name": "new name",
        "description": None,
        "tags": None,
        "mount": None,
        "custom_metadata": None,
    }


async def test_archive_sends_the_flag_in_the_query_and_accepts_204() -> None:
    recorder = Recorder(httpx2.Response(204))
    async with client_for(recorder) as client:
        await client.archive_data_asset(ASSET_ID, archive=False)
    request = recorder.requests[0]
    assert (request.method, request.url.path, request.url.params["archive"]) == (
        "PATCH",
        f"/api/v1/data_assets/{ASSET_ID}/archive",
        "false",
    )


async def test_an_html_error_page_becomes_a_short_message_without_markup() -> None:
    page = "<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
    recorder = Recorder(*[httpx2.Response(502, text=page, headers={"Content-Type": "text/html"})] * 4)
    async with client_for(recorder) as client:
        with pytest.raises(ServerError) as caught:
            await client.get_data_asset(ASSET_ID)
    assert "<" not in str(caught.value)
    assert caught.value.status_code == 502


async def test_code_ocean_message_is_carried_by_the_typed_error() -> None:
    recorder = Recorder(httpx2.Response(409, json={"message": "data asset is still being created"}))
    async with client_for(recorder) as client:
        with pytest.raises(ConflictError) as caught:
            await client.archive_data_asset(ASSET_ID)
    assert caught.value.message == "data asset is still being created"
    assert caught.value.status_code == 409


async def test_a_401_is_not_retried_and_its_error_does_not_contain_the_token() -> None:
    recorder = Recorder(httpx2.Response(401, json={"message": "invalid token"}))
    async with client_for(recorder) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_data_asset(ASSET_ID)
    assert len(recorder.requests) == 1
    encoded = base64.b64encode(f"{TOKEN}:".encode()).decode()
    for text in (str(caught.value), repr(caught.value), repr(client)):
        assert TOKEN not in text
        assert encoded not in text


async def test_retry_after_is_honoured_and_clamped() -> None:
    events: list[RetryEvent] = []
    limited = httpx2.Response(429, json={"message": "slow down"}, headers={"Retry-After": "3600"})
    recorder = Recorder(limited, httpx2.Response(200, json=asset()))
    async with client_for(recorder, on_retry=events.append) as client:
        await client.get_data_asset(ASSET_ID)
    assert len(recorder.requests) == 2
    assert [(e.reason, e.delay) for e in events] == [("HTTP 429", FAST.max_retry_after)]


async def test_a_429_storm_longer_than_the_budget_raises_rate_limited() -> None:
    limited = httpx2.Response(429, json={"message": "slow down"}, headers={"Retry-After": "0"})
    recorder = Recorder(*[limited] * FAST.attempts)
    async with client_for(recorder) as client:
        with pytest.raises(RateLimitedError) as caught:
            await client.get_data_asset(ASSET_ID)
    assert len(recorder.requests) == FAST.attempts
    assert caught.value.retry_after == 0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_reads_are_retried_on_server_errors(status: int) -> None:
    recorder = Recorder(httpx2.Response(status, json={"message": "oops"}), httpx2.Response(200, json=asset()))
    async with client_for(recorder) as client:
        await client.get_data_asset(ASSET_ID)
    assert len(recorder.requests) == 2


async def test_an_update_is_not_repeated_after_a_500_and_says_the_outcome_is_unknown() -> None:
    # The read-back shows the old name: the PUT may still have been applied, so the error may not say "failed".
    recorder = Recorder(httpx2.Response(500, json={"message": "oops"}), httpx2.Response(200, json=asset()))
    async with client_for(recorder) as client:
        with pytest.raises(WriteOutcomeUnknownError) as caught:
            await client.update_data_asset(ASSET_ID, DataAssetUpdateParams(name="x"))
    assert [r.method for r in recorder.requests] == ["PUT", "GET"]
    assert (caught.value.reason, caught.value.attempts) == ("HTTP 500", 1)
    assert "may or may not" in str(caught.value)
    assert "oops" in str(caught.value)


async def test_an_update_answered_500_that_reads_back_as_sent_was_applied() -> None:
    recorder = Recorder(
        httpx2.Response(500, json={"message": "oops"}), httpx2.Response(200, json=asset(name="x", tags=["a"]))
    )
    async with client_for(recorder) as client:
        updated = await client.update_data_asset(ASSET_ID, DataAssetUpdateParams(name="x", tags=["a"]))
    assert (updated.name, updated.tags) == ("x", ["a"])


async def test_an_update_whose_read_back_fails_stays_unknown() -> None:
    recorder = Recorder(httpx2.Response(500, json={"message": "oops"}), *[httpx2.Response(503)] * FAST.attempts)
    async with client_for(recorder) as client:
        with pytest.raises(WriteOutcomeUnknownError):
            await client.update_data_asset(ASSET_ID, DataAssetUpdateParams(name="x"))


@pytest.mark.parametrize(
    "failure",
    [
        httpx2.Response(502),
        httpx2.ReadTimeout("stalled"),
        httpx2.RemoteProtocolError("x"),
        # What an in-process transport (the sandbox's dropped connections under ASGITransport) raises.
        ConnectionResetError("reset"),
    ],
)
async def test_writes_whose_retries_run_out_ambiguously_report_outcome_unknown(
    failure: httpx2.Response | Exception,
) -> None:
    recorder = Recorder(*[failure] * FAST.attempts)
    async with client_for(recorder) as client:
        with pytest.raises(WriteOutcomeUnknownError) as caught:
            await client.archive_data_asset(ASSET_ID)
    assert caught.value.attempts == FAST.attempts
    assert f"sent {FAST.attempts} times" in str(caught.value)


async def test_a_write_refused_429_after_an_attempt_that_timed_out_is_outcome_unknown() -> None:
    # The timed-out attempt may have been applied (a handler that never reads the body commits anyway).
    limited = httpx2.Response(429, json={"message": "slow down"}, headers={"Retry-After": "0"})
    recorder = Recorder(httpx2.ReadTimeout("stalled"), *[limited] * (FAST.attempts - 1))
    async with client_for(recorder) as client:
        with pytest.raises(WriteOutcomeUnknownError) as caught:
            await client.archive_data_asset(ASSET_ID)
    assert caught.value.reason == "HTTP 429"
    assert "an earlier attempt ended in a timeout" in str(caught.value)


async def test_a_write_refused_429_every_time_is_plainly_rate_limited() -> None:
    limited = httpx2.Response(429, json={"message": "slow down"}, headers={"Retry-After": "0"})
    recorder = Recorder(*[limited] * FAST.attempts)
    async with client_for(recorder) as client:
        with pytest.raises(RateLimitedError):
            await client.archive_data_asset(ASSET_ID)


@pytest.mark.parametrize("refused", [httpx2.ConnectError("refused"), ConnectionRefusedError("refused")])
async def test_a_write_that_never_connected_is_a_plain_connect_error(refused: Exception) -> None:
    recorder = Recorder(*[refused] * FAST.attempts)
    async with client_for(recorder) as client:
        with pytest.raises(ConnectError):
            await client.archive_data_asset(ASSET_ID)


async def test_a_read_that_fails_is_never_called_outcome_unknown() -> None:
    recorder = Recorder(*[httpx2.Response(500)] * FAST.attempts)
    async with client_for(recorder) as client:
        with pytest.raises(ServerError):
            await client.get_data_asset(ASSET_ID)


async def test_an_ambiguous_delete_is_done_when_the_asset_is_gone() -> None:
    recorder = Recorder(httpx2.Response(500, json={"message": "oops"}), httpx2.Response(404, json={"message": "no"}))
    async with client_for(recorder) as client:
        await client.delete_data_asset(ASSET_ID)
    assert [r.method for r in recorder.requests] == ["DELETE", "GET"]


async def test_an_ambiguous_delete_of_an_asset_still_there_stays_unknown() -> None:
    recorder = Recorder(httpx2.Response(500, json={"message": "oops"}), httpx2.Response(200, json=asset()))
    async with client_for(recorder) as client:
        with pytest.raises(WriteOutcomeUnknownError):
            await client.delete_data_asset(ASSET_ID)


async def test_a_delete_whose_retry_finds_404_is_done() -> None:
    recorder = Recorder(
        httpx2.ReadTimeout("stalled"),
        httpx2.Response(404, json={"message": "not found"}),
    )
    async with client_for(recorder) as client:
        await client.delete_data_asset(ASSET_ID)
    assert [r.method for r in recorder.requests] == ["DELETE", "DELETE"]


async def test_a_first_attempt_delete_404_is_an_error() -> None:
    recorder = Recorder(httpx2.Response(404, json={"message": "not found"}))
    async with client_for(recorder) as client:
        with pytest.raises(NotFoundError):
            await client.delete_data_asset(ASSET_ID)


def created_then(update_reply: httpx2.Response | Handler) -> tuple[Handler, Handler]:
    """Replies for a successful create: the POST echoes the body as a draft asset, the PUT echoes tags."""

    def create(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        return httpx2.Response(200, json=asset(state="draft", name=body["name"], tags=body["tags"]))

    def update(request: httpx2.Request) -> httpx2.Response:
        if isinstance(update_reply, httpx2.Response):
            return update_reply
        return update_reply(request)

    return create, update


def echo_tags(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json=asset(state="draft", tags=json.loads(request.content)["tags"]))


async def test_create_tags_the_request_with_a_nonce_and_removes_it_afterwards() -> None:
    recorder = Recorder(*created_then(echo_tags))
    params = DataAssetParams(name="n", mount="m", tags=["raw"], source=Source.model_validate({"aws": {"bucket": "b"}}))
    async with client_for(recorder) as client:
        created = await client.create_data_asset(params)
    sent_tags = json.loads(recorder.requests[0].content)["tags"]
    assert sent_tags[0] == "raw"
    assert sent_tags[1].startswith("co-mcp-create-")
    assert json.loads(recorder.requests[1].content)["tags"] == ["raw"]
    assert created.tags == ["raw"]


async def test_create_is_resent_when_the_connection_never_opened() -> None:
    create, update = created_then(echo_tags)
    recorder = Recorder(httpx2.ConnectError("refused"), create, update)
    params = DataAssetParams(name="n", mount="m", source=Source.model_validate({"aws": {"bucket": "b"}}))
    async with client_for(recorder) as client:
        await client.create_data_asset(params)
    assert [r.method for r in recorder.requests] == ["POST", "POST", "PUT"]


async def test_create_after_a_read_timeout_is_never_resent_and_reports_outcome_unknown() -> None:
    nothing_found = httpx2.Response(200, json={"has_more": False, "results": []})
    recorder = Recorder(httpx2.ReadTimeout("stalled"), nothing_found)
    params = DataAssetParams(name="n", mount="m", source=Source.model_validate({"aws": {"bucket": "b"}}))
    async with client_for(recorder) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.create_data_asset(params)
    creates = [r for r in recorder.requests if r.url.path == "/api/v1/data_assets"]
    assert len(creates) == 1
    assert caught.value.nonce_tag in str(caught.value)
    search = json.loads(recorder.requests[1].content)
    assert search["query"] == f'tag:"{caught.value.nonce_tag}"'


async def test_a_created_asset_is_returned_even_if_removing_the_nonce_fails() -> None:
    recorder = Recorder(*created_then(httpx2.Response(409, json={"message": "busy"})))
    params = DataAssetParams(name="n", mount="m", source=Source.model_validate({"aws": {"bucket": "b"}}))
    async with client_for(recorder) as client:
        created = await client.create_data_asset(params)
    assert created.id == ASSET_ID


async def test_iteration_stops_when_the_server_repeats_a_next_token() -> None:
    def page(request: httpx2.Request) -> httpx2.Response:
        number = len(recorder.requests)
        other = f"{ASSET_ID[:-2]}{number:02d}"
        return httpx2.Response(200, json={"has_more": True, "next_token": "same", "results": [asset(id=other)]})

    recorder = Recorder(*[page] * 10)
    async with client_for(recorder) as client:
        ids = [a.id async for a in client.iter_data_assets(DataAssetSearchParams())]
    assert len(recorder.requests) == 2
    assert len(ids) == 2


async def test_iteration_skips_ids_it_already_yielded() -> None:
    pages = [
        {"has_more": True, "next_token": "t1", "results": [asset()]},
        {"has_more": False, "results": [asset(), asset(id=ASSET_ID.replace("0d", "1d", 1))]},
    ]
    recorder = Recorder(*[httpx2.Response(200, json=p) for p in pages])
    async with client_for(recorder) as client:
        ids = [a.id async for a in client.iter_data_assets(DataAssetSearchParams())]
    assert len(ids) == 2
    assert json.loads(recorder.requests[1].content)["next_token"] == "t1"
    assert json.loads(recorder.requests[0].content)["limit"] == 1000


async def test_a_body_that_is_not_a_data_asset_is_an_invalid_response() -> None:
    recorder = Recorder(httpx2.Response(200, json={"id": ASSET_ID, "name": "no other keys"}))
    async with client_for(recorder) as client:
        with pytest.raises(InvalidResponseError, match="not a valid DataAsset"):
            await client.get_data_asset(ASSET_ID)


async def test_reading_a_signed_file_url_sends_no_credentials() -> None:
    recorder = Recorder(
        httpx2.Response(206, content=b"hello", headers={"Content-Range": "bytes 10-14/100", "Content-Type": "text/csv"})
    )
    async with client_for(recorder) as client:
        chunk = await client.read_file_range("https://files.example.net/x.csv?sig=abc", offset=10, length=5)
    request = recorder.requests[0]
    assert "Authorization" not in request.headers
    assert request.headers["Range"] == "bytes=10-14"
    assert (chunk.content, chunk.total_size, chunk.has_more) == (b"hello", 100, True)


@pytest.mark.parametrize(
    "domain", ["codeocean.example.org", "ftp://co.example.org", "https://user:pw@co.example.org", ""]
)
def test_a_bad_domain_is_refused_with_the_setting_named(domain: str) -> None:
    with pytest.raises(InvalidArgumentError, match=r"^domain: "):
        CodeOceanClient(domain, TOKEN)


def test_a_domain_given_with_the_api_suffix_is_normalised() -> None:
    client = CodeOceanClient("https://co.example.org/api/v1/", TOKEN)
    assert client.domain == "https://co.example.org"


async def test_a_signed_link_that_redirects_is_followed_without_credentials() -> None:
    recorder = Recorder(
        httpx2.Response(302, headers={"Location": "https://bucket.example.net/x.csv?X-Amz-Signature=s"}),
        httpx2.Response(206, content=b"abc", headers={"Content-Range": "bytes 0-2/10"}),
    )
    async with client_for(recorder) as client:
        chunk = await client.read_file_range("https://files.example.net/x.csv?sig=abc", length=3)
    assert chunk.content == b"abc"
    assert recorder.requests[1].url.host == "bucket.example.net"
    assert all("Authorization" not in r.headers for r in recorder.requests)


async def test_a_server_ignoring_range_is_read_only_as_far_as_needed() -> None:
    served: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        for n in range(1000):  # a 64 MB file, in 64 KB pieces
            served.append(n)
            yield bytes([n % 256]) * 65536

    recorder = Recorder(
        lambda request: httpx2.Response(200, content=body(), headers={"Content-Length": str(1000 * 65536)})
    )
    async with client_for(recorder) as client:
        chunk = await client.read_file_range("https://files.example.net/big.bin", offset=70000, length=10)
    assert chunk.content == bytes([1]) * 10
    assert chunk.total_size == 1000 * 65536
    assert len(served) < 5


async def test_an_unknown_total_in_content_range_is_not_taken_for_the_end() -> None:
    recorder = Recorder(httpx2.Response(206, content=b"abc", headers={"Content-Range": "bytes 0-2/*"}))
    async with client_for(recorder) as client:
        chunk = await client.read_file_range("https://files.example.net/stream", length=3)
    assert chunk.total_size is None
