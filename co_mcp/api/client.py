"""The async Code Ocean data-asset client: one shared httpx2 connection pool, timeouts, retries, typed errors.

Retries (stamina, jittered exponential backoff, Retry-After honoured and clamped) depend on how safely an
operation may be sent again, its ``RetrySafety``:

* ``READ``: reads and search (a POST that changes nothing). Retried on 429, 500, 502, 503, 504,
  connection errors and timeouts; a failure is a plain failure, never an unknown outcome.
* ``REPEATABLE``: update (PUT sets a state), archive (PATCH sets a flag), set permissions (upserts a
  state) and delete (a 404 after a retried delete means it is done). Retried on 429, 502, 503, 504,
  connection errors and timeouts; not on 500, which on a write may mean "done, then failed".
* ``ONCE``: create and transfer. Retried only when the request cannot have reached the server: a
  connection that never opened, a pool timeout, or a 429 (a rate limiter rejects before doing work).

Create reconciliation: every create carries a one-off tag ``co-mcp-create-<16 hex>`` (tags are free
text, unlike custom metadata, which a deployment's schema may reject). If the outcome is ambiguous (a
5xx, a read timeout, a dropped connection), the client does not resend; it searches for that tag. Found:
that asset is the result. Not found: ``CreateOutcomeUnknownError`` says exactly how to check later. On
success, the tag is removed again with a PUT of the caller's own tags, so assets carry no trace of it.

Other writes (update, archive, permissions, delete, transfer) that end in a 5xx or in a connection lost
after sending raise ``WriteOutcomeUnknownError``, never a plain failure: the server may have applied the
change before failing (commit-then-fail), and the caller must not be told it did not happen. Where a read
settles the question cheaply it is asked first: a delete whose asset is gone (404) is done, and an update
whose asset now shows every requested field was applied.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote, urlsplit

import anyio
import httpx2
import stamina
from pydantic import BaseModel, SecretStr, ValidationError

from co_mcp import __version__
from co_mcp.api.domain import normalise_domain
from co_mcp.api.models import (
    CustomMetadataSchema,
    DataAsset,
    DataAssetParams,
    DataAssetSearchParams,
    DataAssetSearchResults,
    DataAssetUpdateParams,
    FileURLs,
    Folder,
    Permissions,
    TransferDataParams,
)
from co_mcp.errors import (
    APIStatusError,
    CodeOceanError,
    ConnectError,
    CreateOutcomeUnknownError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    WaitTimeoutError,
    WriteOutcomeUnknownError,
    clean_message,
    error_for_status,
)
from co_mcp.text import snippet

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
    from types import TracebackType

    from co_mcp.config import Settings

__all__ = [
    "DEFAULT_AGENT_ID",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "CodeOceanClient",
    "FileChunk",
    "RetryEvent",
    "RetryPolicy",
    "WaitPolicy",
    "WaitProgress",
    "client_from_settings",
    "validate_id",
]

log = logging.getLogger("co_mcp.api")

DEFAULT_TIMEOUT = httpx2.Timeout(30.0, connect=5.0)
DEFAULT_LIMITS = httpx2.Limits(max_connections=32, max_keepalive_connections=32, keepalive_expiry=30.0)
DEFAULT_AGENT_ID = "co-mcp"
NONCE_TAG_PREFIX = "co-mcp-create-"
# The docs recommend 1000 per page for iterating everything; it is also the server's maximum.
ITER_PAGE_SIZE = 1000

_ModelT = TypeVar("_ModelT", bound=BaseModel)
_T = TypeVar("_T")


class RetrySafety(Enum):
    """How safely a request may be sent again after a failure: the retry rules of each are in the module docstring."""

    READ = "read"
    REPEATABLE = "repeatable"
    ONCE = "once"


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff settings. ``timeout`` bounds the whole retry sequence of one call, in seconds."""

    attempts: int = 5
    timeout: float = 60.0
    wait_initial: float = 0.25
    wait_max: float = 8.0
    wait_jitter: float = 0.5
    # A Retry-After beyond this is clamped: a server asking for ten minutes should not stall a tool call.
    max_retry_after: float = 30.0


@dataclass(frozen=True)
class RetryEvent:
    """One retry about to happen: which request, after which failure, and the wait before it."""

    method: str
    path: str
    attempt: int  # the attempt that failed, 1-based
    reason: str
    delay: float | None  # seconds, when chosen by Retry-After; None means stamina's backoff


@dataclass(frozen=True)
class WaitPolicy:
    """Polling for wait_until_ready: starts at ``poll_initial`` seconds and grows by ``factor``."""

    poll_initial: float = 1.0
    poll_max: float = 10.0
    factor: float = 1.5


@dataclass(frozen=True)
class WaitProgress:
    data_asset: DataAsset
    elapsed: float
    timeout: float
    polls: int


@dataclass(frozen=True)
class FileChunk:
    """A byte range of a file fetched through its signed URL."""

    content: bytes
    offset: int
    total_size: int | None  # None when the server did not say
    content_type: str | None

    @property
    def end(self) -> int:
        return self.offset + len(self.content)

    @property
    def has_more(self) -> bool:
        return self.total_size is not None and self.end < self.total_size


def validate_id(value: str, field_name: str = "data_asset_id") -> str:
    """Return the canonical lowercase UUID, or raise before anything is sent.

    The official SDK interpolates ids into paths raw, so ``../capsules/x`` reaches another endpoint.
    Here an id must parse as a UUID, and the canonical form is percent-encoded on top for good measure.
    """
    if isinstance(value, str) and len(value) <= 64:
        try:
            return str(uuid.UUID(value.strip()))
        except ValueError:
            pass
    shown = repr(value)[:60]
    raise InvalidArgumentError(field_name, f"must be a UUID such as 0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11, got {shown}")


def _asset_path(data_asset_id: str, suffix: str = "") -> str:
    return f"data_assets/{quote(validate_id(data_asset_id), safe='')}{suffix}"


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After is delta-seconds or an HTTP date (RFC 9110 section 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_message(response: httpx2.Response) -> str:
    """Code Ocean's ``{"message": ...}``, else a cleaned line of the body (never raw HTML)."""
    try:
        body = response.json()
    except ValueError:
        return clean_message(response.text, response.status_code)
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return clean_message(body["message"], response.status_code)
    return clean_message("" if body is None else str(body), response.status_code)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, WriteOutcomeUnknownError):
        return exc.reason
    return type(exc).__name__


class CodeOceanClient:
    """Async client for Code Ocean's data-asset API (``{domain}/api/v1/``).

    Use as an async context manager, or call ``aclose()``: it owns one ``httpx2.AsyncClient`` whose
    connection pool (httpx2's own, sized by ``limits``) every call shares; proxies come from the
    environment (``HTTPS_PROXY``, ``NO_PROXY``, ...) as httpx2 reads them. ``transport`` lets tests and
    the embedded sandbox run the API in-process (``httpx2.ASGITransport``).
    """

    def __init__(
        self,
        domain: str,
        token: SecretStr | str,
        *,
        agent_id: str = DEFAULT_AGENT_ID,
        timeout: httpx2.Timeout = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        wait: WaitPolicy | None = None,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        transport: httpx2.AsyncBaseTransport | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        reconcile_delays: tuple[float, ...] = (0.0, 1.0, 3.0),
    ) -> None:
        self.domain = normalise_domain(domain)
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value():
            raise InvalidArgumentError("token", "is empty; set CODEOCEAN_TOKEN to a Code Ocean access token")
        # Built once; kept off the httpx2 client's default headers so it is never sent to the signed
        # file URLs (which may live on another host, such as S3).
        self._authorization = "Basic " + base64.b64encode(f"{secret.get_secret_value()}:".encode()).decode("ascii")
        self.retry = retry or RetryPolicy()
        self.wait = wait or WaitPolicy()
        self._on_retry = on_retry
        self._reconcile_delays = reconcile_delays
        self._http = httpx2.AsyncClient(
            base_url=f"{self.domain}/api/v1/",
            timeout=timeout,
            limits=limits,
            transport=transport,
            headers={"Agent-Id": agent_id, "User-Agent": f"co-mcp/{__version__} httpx2/{httpx2.__version__}"},
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"CodeOceanClient(domain={self.domain!r}, token=SecretStr('**********'))"

    @property
    def identity(self) -> str:
        """Which deployment and which credentials: a one-way digest, safe to bind into signatures."""
        return hashlib.sha256(f"{self.domain}\0{self._authorization}".encode()).hexdigest()[:32]

    async def __aenter__(self) -> Self:
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._http.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- data assets ----------------------------------------------------------------------------

    async def get_data_asset(self, data_asset_id: str) -> DataAsset:
        response = await self._request("GET", _asset_path(data_asset_id), safety=RetrySafety.READ)
        return _parse(response, DataAsset)

    async def update_data_asset(self, data_asset_id: str, params: DataAssetUpdateParams) -> DataAsset:
        """Change only the fields given (``None`` = unchanged; ``tags`` replaces the list)."""
        path = _asset_path(data_asset_id)
        try:
            response = await self._request("PUT", path, json=params.to_wire(), safety=RetrySafety.REPEATABLE)
        except WriteOutcomeUnknownError as unknown:
            # The asset as it is now settles it when it shows every requested value; else it stays unknown.
            try:
                asset = await self.get_data_asset(data_asset_id)
            except CodeOceanError:
                raise unknown from None
            if not _shows_update(asset, params):
                raise
            log.info("update %s: the ambiguous request was applied (every field reads back as sent)", path)
            return asset
        return _parse(response, DataAsset)

    async def create_data_asset(self, params: DataAssetParams) -> DataAsset:
        """Create an asset (it starts in ``draft``); never creates two, even when the network fails.

        Raises ``CreateOutcomeUnknownError`` if an ambiguous failure could not be reconciled.
        """
        _validate_create_ids(params)
        nonce = f"{NONCE_TAG_PREFIX}{secrets.token_hex(8)}"
        body = params.to_wire()
        body["tags"] = [*params.tags, nonce]
        try:
            response = await self._request("POST", "data_assets", json=body, safety=RetrySafety.ONCE)
            asset = _parse(response, DataAsset)
        except (WriteOutcomeUnknownError, InvalidResponseError) as exc:
            log.warning("create: %s; reconciling by tag %s before deciding anything", _describe(exc), nonce)
            asset = await self._reconcile_create(nonce, exc)
        return await self.strip_create_tags(asset)

    async def archive_data_asset(self, data_asset_id: str, *, archive: bool = True) -> None:
        path = _asset_path(data_asset_id, "/archive")
        # The SDK sends Python's True/False; the docs show lowercase. The server takes both.
        params = {"archive": "true" if archive else "false"}
        await self._request("PATCH", path, params=params, safety=RetrySafety.REPEATABLE, expect_body=False)

    async def delete_data_asset(self, data_asset_id: str) -> None:
        """Delete permanently. A 404 on a *retried* attempt means an earlier attempt already deleted it."""
        path = _asset_path(data_asset_id)
        attempts: list[int] = []
        try:
            await self._request("DELETE", path, safety=RetrySafety.REPEATABLE, expect_body=False, attempts_out=attempts)
        except NotFoundError:
            if len(attempts) > 1:
                log.info("delete %s: 404 on attempt %d, so an earlier attempt succeeded", path, len(attempts))
                return
            raise
        except WriteOutcomeUnknownError as unknown:
            # Gone now means deleted: by this request (or by someone else; the result is the same).
            try:
                await self.get_data_asset(data_asset_id)
            except NotFoundError:
                log.info("delete %s: the ambiguous request was applied (the asset is gone)", path)
                return
            except CodeOceanError:
                raise unknown from None
            raise

    # --- permissions ----------------------------------------------------------------------------

    async def get_permissions(self, data_asset_id: str) -> Permissions:
        response = await self._request("GET", _asset_path(data_asset_id, "/permissions"), safety=RetrySafety.READ)
        return _parse(response, Permissions)

    async def update_permissions(self, data_asset_id: str, permissions: Permissions) -> None:
        path = _asset_path(data_asset_id, "/permissions")
        await self._request("POST", path, json=permissions.to_wire(), safety=RetrySafety.REPEATABLE, expect_body=False)

    # --- search ---------------------------------------------------------------------------------

    async def search_data_assets(self, params: DataAssetSearchParams) -> DataAssetSearchResults:
        response = await self._request("POST", "data_assets/search", json=params.to_wire(), safety=RetrySafety.READ)
        return _parse(response, DataAssetSearchResults)

    async def iter_data_assets(
        self, params: DataAssetSearchParams, *, max_items: int | None = None, max_pages: int = 1000
    ) -> AsyncIterator[DataAsset]:
        """Yield every matching asset across pages, each id once.

        Stops when the server says there is no more, when a ``next_token`` repeats (a server bug would
        otherwise loop forever), after ``max_items`` assets, or after ``max_pages`` pages.
        """
        if params.limit is None:
            params = params.model_copy(update={"limit": ITER_PAGE_SIZE})
        seen: set[str] = set()
        tokens: set[str] = set()
        yielded = 0
        for _page in range(max_pages):
            page = await self.search_data_assets(params)
            for asset in page.results:
                if asset.id in seen:
                    continue
                seen.add(asset.id)
                yield asset
                yielded += 1
                if max_items is not None and yielded >= max_items:
                    return
            if not page.has_more or not page.next_token:
                return
            if page.next_token in tokens:
                log.warning("search returned next_token %r twice; stopping to avoid a loop", page.next_token)
                return
            tokens.add(page.next_token)
            # As the SDK does: same parameters, the new token (the server ignores offset beside it).
            params = params.model_copy(update={"next_token": page.next_token})
        log.warning("search iteration stopped at the %d-page cap", max_pages)

    # --- files ----------------------------------------------------------------------------------

    async def list_data_asset_files(self, data_asset_id: str, path: str = "") -> Folder:
        """One folder level of an internal asset (``""`` is the root)."""
        response = await self._request(
            "POST", _asset_path(data_asset_id, "/files"), json={"path": path}, safety=RetrySafety.READ
        )
        return _parse(response, Folder)

    async def get_data_asset_file_urls(self, data_asset_id: str, path: str) -> FileURLs:
        response = await self._request(
            "GET", _asset_path(data_asset_id, "/files/urls"), params={"path": path}, safety=RetrySafety.READ
        )
        return _parse(response, FileURLs)

    async def read_file_range(self, url: str, *, offset: int = 0, length: int) -> FileChunk:
        """Fetch ``length`` bytes from ``offset`` of a signed file URL, without Code Ocean credentials.

        Redirects are followed (object stores use them); a server that ignores Range is read only as
        far as needed, never whole into memory.
        """
        if offset < 0 or length < 1:
            raise InvalidArgumentError("offset/length", "offset must be >= 0 and length >= 1")
        if urlsplit(url).scheme not in ("http", "https"):
            raise InvalidArgumentError("url", "must be an http(s) URL returned by get_data_asset_file_urls")

        async def fetch() -> FileChunk:
            return await self._fetch_range(url, offset, length)

        return await self._retrying("GET", url, RetrySafety.READ, fetch)

    async def _fetch_range(self, url: str, offset: int, length: int) -> FileChunk:
        shown = _short(url)
        headers = {"Range": f"bytes={offset}-{offset + length - 1}"}
        with _transport_errors("GET", shown):
            async with self._http.stream("GET", url, headers=headers, follow_redirects=True) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_for_status(
                        response.status_code,
                        _error_message(response),
                        method="GET",
                        path=shown,
                        retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                    )
                content_type = response.headers.get("Content-Type")
                if response.status_code == 206:
                    body = await response.aread()
                    return FileChunk(body[:length], offset, _range_total(response.headers), content_type)
                # 200: the whole file is coming; keep only what was asked for, and stop reading there.
                declared = response.headers.get("Content-Length", "")
                total = int(declared) if declared.isdigit() else None
                kept = bytearray()
                async for piece in response.aiter_bytes():
                    kept += piece
                    if len(kept) >= offset + length:
                        break
                return FileChunk(bytes(kept[offset : offset + length]), offset, total, content_type)

    # --- admin ----------------------------------------------------------------------------------

    async def transfer_data_asset(self, data_asset_id: str, params: TransferDataParams) -> None:
        path = _asset_path(data_asset_id, "/transfer")
        await self._request("POST", path, json=params.to_wire(), safety=RetrySafety.ONCE, expect_body=False)

    async def get_custom_metadata_schema(self) -> CustomMetadataSchema:
        response = await self._request("GET", "custom_metadata", safety=RetrySafety.READ)
        return _parse(response, CustomMetadataSchema)

    # --- waiting --------------------------------------------------------------------------------

    async def wait_until_ready(
        self,
        data_asset_id: str,
        *,
        timeout: float = 120.0,  # noqa: ASYNC109 - the asset's deadline, reported with its last state
        on_progress: Callable[[WaitProgress], Awaitable[None]] | None = None,
    ) -> DataAsset:
        """Poll until the asset leaves ``draft`` (ready or failed); at most ``timeout`` seconds.

        The interval starts short (new assets often settle quickly) and grows, so long creations do
        not hammer the API. Raises ``WaitTimeoutError`` with the last state seen.
        """
        if timeout <= 0:
            raise InvalidArgumentError("timeout", "must be a positive number of seconds")
        validate_id(data_asset_id)
        start = anyio.current_time()
        interval = self.wait.poll_initial
        polls = 0
        while True:
            asset = await self.get_data_asset(data_asset_id)
            polls += 1
            elapsed = anyio.current_time() - start
            if on_progress is not None:
                await on_progress(WaitProgress(asset, elapsed, timeout, polls))
            if asset.is_settled:
                return asset
            remaining = timeout - elapsed
            if remaining <= 0:
                raise WaitTimeoutError(
                    f"data asset {asset.id} was still {asset.state} after {timeout:g} s; "
                    "creation continues on the server, so check again later",
                    data_asset_id=asset.id,
                    last_state=str(asset.state),
                )
            # The final poll lands on the deadline rather than past it.
            await anyio.sleep(min(interval, remaining))
            interval = min(interval * self.wait.factor, self.wait.poll_max)

    # --- internals ------------------------------------------------------------------------------

    async def _reconcile_create(self, nonce: str, cause: CodeOceanError) -> DataAsset:
        query = DataAssetSearchParams(query=f'tag:"{nonce}"', limit=10)
        for delay in self._reconcile_delays:
            # A real server's search index may lag the write by a moment, hence a few spaced looks.
            if delay:
                await anyio.sleep(delay)
            try:
                found = (await self.search_data_assets(query)).results
            except CodeOceanError as exc:
                log.warning("create reconciliation search failed: %s", _describe(exc))
                break
            matches = [asset for asset in found if asset.tags and nonce in asset.tags]
            if len(matches) == 1:
                log.info("create: the ambiguous request did create %s; returning it", matches[0].id)
                return matches[0]
        raise CreateOutcomeUnknownError(
            f"Creating the data asset failed ambiguously ({_describe(cause)}): it may or may not exist, so "
            f"it was not sent again. Search for tag:{nonce} in a minute; if nothing is found, "
            "creating it again is safe.",
            nonce_tag=nonce,
        ) from cause

    async def strip_create_tags(self, asset: DataAsset) -> DataAsset:
        """Remove the reconciliation tags a create left on ``asset`` (if any); returns the asset as it is now.

        ``create_data_asset`` does this itself; call it again once the asset has settled if that first
        attempt failed (a deployment may refuse metadata changes while an asset is still a draft).
        """
        tags = asset.tags or []
        kept = [tag for tag in tags if not tag.startswith(NONCE_TAG_PREFIX)]
        if len(kept) == len(tags):
            return asset
        try:
            return await self.update_data_asset(asset.id, DataAssetUpdateParams(tags=kept))
        except CodeOceanError as exc:
            # The asset exists and is the caller's; a leftover tag is cosmetic, failing the create is not.
            log.warning("could not yet remove the create tag from %s: %s", asset.id, _describe(exc))
            return asset

    async def _request(
        self,
        method: str,
        path: str,
        *,
        safety: RetrySafety,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        expect_body: bool = True,
        authenticated: bool = True,
        attempts_out: list[int] | None = None,
    ) -> httpx2.Response:
        async def send() -> httpx2.Response:
            return await self._send_once(
                method, path, json=json, params=params, headers=headers,
                expect_body=expect_body, authenticated=authenticated,
            )  # fmt: skip

        return await self._retrying(method, path, safety, send, attempts_out)

    async def _retrying(
        self,
        method: str,
        path: str,
        safety: RetrySafety,
        send: Callable[[], Awaitable[_T]],
        attempts_out: list[int] | None = None,
    ) -> _T:
        """Run ``send`` under the retry rules for ``safety`` (see the module docstring)."""
        policy = self.retry
        last: dict[str, Any] = {}

        def backoff(exc: Exception) -> bool | float:
            if safety is not RetrySafety.READ and "ambiguous" not in last and _ambiguous(exc):
                last["ambiguous"] = exc  # the first attempt that may have been applied, unanswered
            if not _should_retry(exc, safety):
                return False
            delay: float | None = None
            if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
                delay = min(exc.retry_after, policy.max_retry_after)
            last["event"] = (_describe(exc), delay)
            return True if delay is None else delay

        attempt_no = 0
        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=policy.attempts,
                timeout=policy.timeout,
                wait_initial=policy.wait_initial,
                wait_max=policy.wait_max,
                wait_jitter=policy.wait_jitter,
            ):
                with attempt:
                    attempt_no += 1
                    if attempts_out is not None:
                        attempts_out.append(attempt_no)
                    if attempt_no > 1 and "event" in last:
                        reason, delay = last["event"]
                        self._retried(RetryEvent(method, _short(path), attempt_no - 1, reason, delay))
                    return await send()
        except (ServerError, TransportError, RateLimitedError) as exc:
            # A write whose last answer is ambiguous, or refused (429, no connection) after an earlier attempt
            # that was: the change may have been made, so "failed" would be a lie.
            earlier = last.get("ambiguous")
            if safety is RetrySafety.READ or not (_ambiguous(exc) or earlier is not None):
                raise
            if earlier is exc or _ambiguous(exc):
                earlier = None  # the last answer says it all
            raise _outcome_unknown(exc, method, _short(path), attempt_no, earlier) from exc
        raise AssertionError("unreachable: stamina either returns or re-raises")  # pragma: no cover

    def _retried(self, event: RetryEvent) -> None:
        log.warning(
            "retrying %s %s after %s (attempt %d)%s",
            event.method,
            event.path,
            event.reason,
            event.attempt,
            f", waiting {event.delay:.2f} s as the server asked" if event.delay is not None else "",
        )
        if self._on_retry is not None:
            self._on_retry(event)

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        json: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        expect_body: bool,
        authenticated: bool,
    ) -> httpx2.Response:
        request_headers = dict(headers or {})
        if authenticated:
            request_headers["Authorization"] = self._authorization
        shown = _short(path)
        started = time.perf_counter()
        with _transport_errors(method, shown):
            response = await self._http.request(method, path, json=json, params=params, headers=request_headers)
        log.debug(
            "%s %s -> %d in %.1f ms",
            method,
            shown,
            response.status_code,
            (time.perf_counter() - started) * 1e3,
        )
        if response.is_success:
            return response
        raise error_for_status(
            response.status_code,
            _error_message(response),
            method=method,
            path=shown,
            retry_after=_parse_retry_after(response.headers.get("Retry-After")),
        )


def _should_retry(exc: Exception, safety: RetrySafety) -> bool:
    if isinstance(exc, TransportError):
        return safety is not RetrySafety.ONCE or not exc.may_have_reached_server
    if isinstance(exc, APIStatusError):
        if exc.status_code == 429:
            return True
        if safety is RetrySafety.ONCE:
            return False
        if exc.status_code in (502, 503, 504):
            return True
        # A 500 on a read changes nothing when repeated; on a write it may mean "done, then failed".
        return exc.status_code == 500 and safety is RetrySafety.READ
    return False


def _ambiguous(exc: Exception) -> bool:
    """Whether a failed attempt may have been applied: a 5xx, or a connection lost after sending."""
    return isinstance(exc, ServerError) or (isinstance(exc, TransportError) and exc.may_have_reached_server)


def _reason(exc: Exception) -> str:
    if isinstance(exc, APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, RequestTimeoutError):
        return "a timeout"
    return "a lost connection" if isinstance(exc, TransportError) else type(exc).__name__


def _outcome_unknown(
    exc: CodeOceanError, method: str, path: str, attempts: int, earlier: Exception | None = None
) -> WriteOutcomeUnknownError:
    reason = _reason(exc)
    sent = "once" if attempts == 1 else f"{attempts} times"
    said = f" (Code Ocean said: {exc.message})" if isinstance(exc, APIStatusError) else ""
    before = f", after an earlier attempt ended in {_reason(earlier)}" if earlier is not None else ""
    return WriteOutcomeUnknownError(
        f"{method} {path}: outcome unknown. The request was sent {sent} and the last attempt ended in {reason}"
        f"{said}{before}, which does not say whether the change was applied: Code Ocean may or may not have "
        "made it. Check the data asset's current state (get_data_asset, get_data_asset_permissions) before "
        "repeating it.",
        method=method,
        path=path,
        reason=reason,
        attempts=attempts,
    )


def _shows_update(asset: DataAsset, params: DataAssetUpdateParams) -> bool:
    """Whether ``asset`` carries every value ``params`` sets (None fields are not part of the update)."""
    wanted = params.model_dump(exclude_none=True)
    now = asset.model_dump()
    return all(now.get(name) == value for name, value in wanted.items())


@contextlib.contextmanager
def _transport_errors(method: str, path: str) -> Iterator[None]:
    """Transport failures as ours, saying whether the request may have reached the server.

    httpx2's own transports raise httpx2's exceptions; a transport of another kind (in-process, such as an ASGI
    app's, or a caller's own) may raise the operating system's ``ConnectionError`` family instead.
    """
    try:
        yield
    except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout, ConnectionRefusedError) as exc:
        # Nothing was written to the server: safe to send again, whatever the operation.
        raise _transport_error(exc, method, path, reached=False) from None
    except (httpx2.TransportError, ConnectionError) as exc:
        raise _transport_error(exc, method, path, reached=True) from None


def _range_total(headers: httpx2.Headers) -> int | None:
    """The total size from ``Content-Range: bytes a-b/total``; None when absent, unknown (*) or malformed."""
    total = headers.get("Content-Range", "").rpartition("/")[2].strip()
    return int(total) if total.isdigit() else None


def _transport_error(exc: Exception, method: str, path: str, *, reached: bool) -> TransportError:
    kind = type(exc).__name__
    if isinstance(exc, httpx2.TimeoutException):
        return RequestTimeoutError(
            f"{method} {path} timed out ({kind})", method=method, path=path, may_have_reached_server=reached
        )
    if not reached:
        return ConnectError(f"{method} {path}: could not connect to Code Ocean ({kind})", method=method, path=path)
    return TransportError(f"{method} {path}: the connection failed mid-request ({kind})", method=method, path=path)


def _short(path: str) -> str:
    """A path or URL as it may appear in messages and logs: no query string (signatures), no userinfo."""
    parts = urlsplit(path)
    if parts.scheme:
        return f"{parts.scheme}://{parts.hostname}{parts.path}"
    return parts.path


def _parse(response: httpx2.Response, model: type[_ModelT]) -> _ModelT:
    method, path = response.request.method, _short(response.request.url.path)
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        first = exc.errors()[0]
        # A location can hold keys of the body (other people's text): cleaned like any.
        where = snippet(".".join(str(part) for part in first["loc"]), 200) or "body"
        raise InvalidResponseError(
            f"{method} {path} returned a body that is not a valid {model.__name__} ({where}: {first['msg']})",
            method=method,
            path=path,
        ) from None


def _validate_create_ids(params: DataAssetParams) -> None:
    source = params.source
    if source is not None and source.computation is not None:
        validate_id(source.computation.id, "source.computation.id")
    if source is not None and source.cloud_workstation is not None:
        validate_id(source.cloud_workstation.id, "source.cloud_workstation.id")
    for index, data_asset_id in enumerate(params.data_asset_ids or []):
        validate_id(data_asset_id, f"data_asset_ids[{index}]")


def client_from_settings(settings: Settings, domain: str, token: SecretStr) -> CodeOceanClient:
    """A client for ``domain`` with ``token``, timeouts and retries as configured."""
    timeout = httpx2.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    retry = RetryPolicy(
        attempts=settings.retry_attempts, timeout=settings.retry_timeout, max_retry_after=settings.max_retry_after
    )
    return CodeOceanClient(domain, token, agent_id=settings.codeocean_agent_id, timeout=timeout, retry=retry)
