"""Secrets never leak: a canary Code Ocean token, canary GCS credentials and a canary confirm secret.

A representative session (every tool, successes and errors, resources, completions, prompts, an
elicited confirmation, injected upstream faults, a rejected token) runs in both protocol eras over
in-process HTTP, once more over real loopback HTTP with the audit log on stderr, and once with MCP
itself over streamable HTTP behind a canary bearer token (plus requests with wrong tokens);
``co-mcp doctor`` and the configuration errors are run with the same canaries. Debug logging is on
for every logger.

Every place a secret could surface is then searched for every canary, plain, by its random core, and
base64-encoded as in a Basic header (``token:``) or alone: log records (formatted, with tracebacks),
stdout/stderr at the file-descriptor level, tool results (text and structured content), error texts,
resources, prompts, completions, elicitation messages, the sandbox's request log and the audit log.

Figure: ``FIGURE secrets.occurrences=0`` with how much was searched.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.types import (
    CallToolResult,
    ElicitRequestParams,
    ElicitResult,
    ResourceTemplateReference,
    TextContent,
    TextResourceContents,
)

from co_mcp.api import CodeOceanClient
from co_mcp.audit import AuditLog
from co_mcp.config import CredentialSet, GcpCredentials, Settings, load_settings
from co_mcp.confirm import TokenSigner
from co_mcp.errors import CoMcpError
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_COMPUTATION_ID
from co_mcp.sandbox.server import running
from co_mcp.sandbox.server import serving as serving_app
from co_mcp.server import ServerOptions, build_server, http_app
from tests.conftest import FAST_RETRY, SANDBOX_URL, client_for
from tests.reliability.figures import emit

pytestmark = [pytest.mark.anyio, pytest.mark.reliability]

TOKEN = "cop_canary_4f9c2e7a1b8d60e3"  # the Code Ocean token the sandbox knows as alice's
REVOKED = "cop_canary_revoked_93b0d7f1c5"  # a token Code Ocean rejects (401)
GCS_ID = "canary-gcs-client-id-3a7f51e0"
GCS_SECRET = "canary-gcs-secret-c82e94d0b6"
CONFIRM_SECRET = "canary-confirm-secret-71d3a9e5f0b2c4"
HTTP_TOKEN = "canary-http-bearer-5b2e8c07d1"  # CO_MCP_HTTP_TOKEN: MCP over HTTP, and co-mcp doctor
CANARIES = {
    "token": TOKEN,
    "revoked": REVOKED,
    "gcs_id": GCS_ID,
    "gcs_secret": GCS_SECRET,
    "confirm": CONFIRM_SECRET,
    "http_token": HTTP_TOKEN,
}
LOGGERS = ("", "co_mcp", "mcp", "httpx2", "httpcore", "uvicorn", "uvicorn.error", "uvicorn.access", "starlette")


def b64(text: str, *, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(text.encode()).decode()


def forms(secret: str) -> set[str]:
    """Every spelling of a secret worth searching for."""
    core = secret.rsplit("-", 1)[-1].rsplit("_", 1)[-1]  # the random part alone: catches truncation
    spelled = {secret, core, secret.encode().hex()}
    for raw in (secret, f"{secret}:"):  # alone, and as the username of a Basic header
        for urlsafe in (False, True):
            encoded = b64(raw, urlsafe=urlsafe)
            spelled |= {encoded, encoded.rstrip("=")}
    return {s for s in spelled if len(s) >= 8}


FORMS = {f"{name}:{form}": form for name, secret in CANARIES.items() for form in forms(secret)}


def occurrences(haystack: str) -> list[str]:
    """Which canary spellings occur in the text (case-insensitively for the hex and base64 forms)."""
    lowered = haystack.lower()
    return [label for label, form in FORMS.items() if form in haystack or form.lower() in lowered]


class Records(logging.Handler):
    """Every log record, formatted with its arguments and traceback, as a log file would hold it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def debug_logging() -> Iterator[Records]:
    records = Records()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    root = logging.getLogger()
    root.addHandler(records)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(records)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


class Sinks:
    """Everything gathered during the session, by where it came from."""

    def __init__(self) -> None:
        self.by_sink: dict[str, list[str]] = {}

    def add(self, sink: str, value: Any) -> None:
        text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        self.by_sink.setdefault(sink, []).append(text)

    def result(self, result: CallToolResult) -> None:
        sink = "error_texts" if result.is_error else "tool_results"
        for block in result.content:
            self.add(sink, block.text if isinstance(block, TextContent) else block.model_dump(mode="json"))
        if result.structured_content is not None:
            self.add("structured_content", result.structured_content)

    def leaks(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for sink, texts in self.by_sink.items():
            hits = sorted({hit for text in texts for hit in occurrences(text)})
            if hits:
                found[sink] = hits
        return found

    @property
    def size(self) -> int:
        return sum(len(text) for texts in self.by_sink.values() for text in texts)


def credentials() -> dict[str, CredentialSet]:
    return {"lab": CredentialSet(gcp=GcpCredentials(client_id=GCS_ID, client_secret=GCS_SECRET))}


def options(audit: AuditLog) -> ServerOptions:
    return ServerOptions(credentials=credentials(), signer=TokenSigner(CONFIRM_SECRET.encode()), audit=audit)


def ready_assets(sandbox: Sandbox, count: int) -> list[str]:
    alice = sandbox.users["alice"].id
    found = [
        r.id
        for r in sandbox.store.all_assets()
        if r.owner_id == alice
        and r.state == "ready"
        and not r.archived
        and not (r.source_bucket or {}).get("external")
        and (r.files or 0) > 1
    ]
    assert len(found) >= count
    return found[:count]


ELICITED: list[str] = []  # what the server asked the user


async def accept(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    ELICITED.append(params.message)
    return ElicitResult(action="accept", content={"confirm": True})


async def session(client: Client, sandbox: Sandbox, sinks: Sinks) -> int:
    """Every tool, in success and in error, plus resources, prompts and completions. Returns the calls made."""
    calls = 0

    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        try:
            result = await client.call_tool(tool, arguments)
        except Exception as exc:
            sinks.add("error_texts", str(exc))
            return {}
        sinks.result(result)
        return result.structured_content or {}

    first, second, third, fourth = ready_assets(sandbox, 4)
    missing = "00000000-0000-4000-8000-00000000dead"
    await call("search_data_assets", {"query": "rna", "max_results": 30})
    await call("search_data_assets", {"limit": 1000})
    await call("search_data_assets", {"filters": [{"key": "no_such_field", "value": 1}]})
    await call("get_data_asset", {"data_asset_ids": [first, second, missing]})
    await call("get_data_asset", {"data_asset_ids": ["../capsules/x"]})
    await call("get_data_asset_permissions", {"data_asset_id": first})
    listing = await call("list_data_asset_files", {"data_asset_id": first})
    await call("list_data_asset_files", {"data_asset_id": first, "path": "no/such/folder"})
    paths = [i["path"] for i in listing.get("items", []) if i.get("type") == "file"]
    if paths:
        await call("read_data_asset_file", {"data_asset_id": first, "path": paths[0], "length": 2000})
        await call("get_data_asset_file_urls", {"data_asset_id": first, "path": paths[0]})
    await call("read_data_asset_file", {"data_asset_id": first, "path": "missing.txt"})
    await call("get_custom_metadata_schema", {})
    await call("wait_for_data_asset", {"data_asset_id": first, "timeout": 5})
    await call("wait_for_data_asset", {"data_asset_id": missing, "timeout": 5})
    gcs = {"kind": "gcs", "bucket": "lab-bucket", "prefix": "raw", "credentials": "lab"}
    await call("create_data_asset", {"name": "From GCS", "source": gcs, "wait": True, "wait_timeout": 10})
    await call("create_data_asset", {"name": "Bad GCS", "source": {**gcs, "bucket": "missing-bucket"}, "wait": True})
    await call("create_data_asset", {"name": "Unknown set", "source": {**gcs, "credentials": "nope"}})
    await call(
        "create_data_asset",
        {"name": "Results", "source": {"kind": "computation", "computation_id": DEMO_COMPUTATION_ID}},
    )
    await call("update_data_asset", {"data_asset_id": first, "description": "checked", "add_tags": ["canary-run"]})
    await call("update_data_asset", {"data_asset_id": missing, "name": "x"})
    await call("unarchive_data_asset", {"data_asset_id": first})
    # Guarded tools: preview, confirm with the token, a forged token, and an action Code Ocean refuses.
    for tool, target, extra in (
        ("archive_data_asset", second, {}),
        ("share_data_asset", third, {"users": [{"email": "carol@example.org", "role": "viewer"}]}),
        ("delete_data_asset", fourth, {}),
        ("transfer_data_asset", first, {"bucket": "cold-archive", "force": True}),
    ):
        arguments = {"data_asset_ids": [target], **extra}
        preview = await call(tool, arguments)
        await call(tool, {**arguments, "confirm_token": "v1.9999999999." + "0" * 32 + ".forged"})
        if preview.get("confirm_token"):
            await call(tool, {**arguments, "confirm_token": preview["confirm_token"]})
    # Upstream faults: retries that run out, a rate limit, a dropped connection.
    sandbox.faults.script("get", [500] * 6)
    await call("get_data_asset", {"data_asset_ids": [first]})
    sandbox.faults.script("search", [429] * 6)
    await call("search_data_assets", {"limit": 1})
    sandbox.faults.script("get_permissions", ["drop"] * 6)
    await call("get_data_asset_permissions", {"data_asset_id": first})
    sandbox.faults.script("update", ["commit-500"])
    await call("update_data_asset", {"data_asset_id": first, "name": "after a fault"})
    # Resources, prompts, completions.
    for uri in (
        f"codeocean://data-assets/{first}",
        f"codeocean://data-assets/{first}/permissions",
        f"codeocean://data-assets/{missing}",
    ):
        try:
            for content in (await client.read_resource(uri)).contents:
                sinks.add("resources", content.text if isinstance(content, TextResourceContents) else "")
        except Exception as exc:
            sinks.add("error_texts", str(exc))
    sinks.add("prompts", (await client.get_prompt("find_dataset", {"analysis": "rna"})).model_dump(mode="json"))
    ref = ResourceTemplateReference(type="ref/resource", uri="codeocean://data-assets/{data_asset_id}")
    completion = await client.complete(ref, {"name": "data_asset_id", "value": "rna"})
    sinks.add("completions", completion.model_dump(mode="json"))
    return calls


@asynccontextmanager
async def serving(factory: Any, audit: AuditLog, mode: str, **kwargs: Any) -> AsyncIterator[Client]:
    async with Client(build_server(factory, options=options(audit)), mode=mode, **kwargs) as client:
        yield client


async def test_no_canary_reaches_any_output(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sinks = Sinks()
    ELICITED.clear()
    calls = 0
    sandboxes: list[Sandbox] = []
    audit_file = tmp_path / "audit.jsonl"
    with debug_logging() as records:
        for mode in ("legacy", "auto"):
            sandbox = Sandbox(assets=30, seed=11, token=TOKEN)
            sandboxes.append(sandbox)
            factory = lambda sandbox=sandbox: client_for(sandbox)  # noqa: E731

            async with serving(factory, AuditLog(audit_file), mode) as client:
                calls += await session(client, sandbox, sinks)
            # A client that can answer the confirmation question itself.
            async with serving(factory, AuditLog(audit_file), mode, elicitation_callback=accept) as client:
                target = ready_assets(sandbox, 6)[5]
                result = await client.call_tool("archive_data_asset", {"data_asset_ids": [target]})
                sinks.result(result)
                calls += 1
            # A token Code Ocean rejects: every error must say so without repeating it.
            rejected = lambda sandbox=sandbox: CodeOceanClient(  # noqa: E731
                SANDBOX_URL, REVOKED, transport=_asgi(sandbox), retry=FAST_RETRY, reconcile_delays=(0.0,)
            )
            async with serving(rejected, AuditLog(audit_file), mode) as client:
                for tool, arguments in (
                    ("search_data_assets", {"limit": 1}),
                    ("update_data_asset", {"data_asset_id": ready_assets(sandbox, 1)[0], "name": "x"}),
                    (
                        "create_data_asset",
                        {"name": "x", "source": {"kind": "gcs", "bucket": "lab", "credentials": "lab"}},
                    ),
                ):
                    sinks.result(await client.call_tool(tool, arguments))
                    calls += 1
        # Over real loopback HTTP, the audit log on stderr.
        sandbox = Sandbox(assets=30, seed=11, token=TOKEN)
        sandboxes.append(sandbox)
        with running(sandbox) as url:
            over_http = lambda: CodeOceanClient(url, TOKEN, retry=FAST_RETRY, reconcile_delays=(0.0,))  # noqa: E731
            async with serving(over_http, AuditLog("-"), "auto") as client:
                calls += await session(client, sandbox, sinks)
            # co-mcp doctor and the configuration errors, with the same canaries in the environment.
            await doctor(url, monkeypatch, sinks)
        # MCP itself over streamable HTTP, behind the canary bearer token, to a fresh sandbox over loopback.
        sandbox = Sandbox(assets=30, seed=11, token=TOKEN)
        sandboxes.append(sandbox)
        with running(sandbox) as url:
            calls += await mcp_over_http(url, sandbox, sinks)
        config_errors(tmp_path, sinks)
        reprs(sandboxes[0], sinks)
    sinks.by_sink["logs"] = records.lines
    sinks.by_sink["audit_log"] = [audit_file.read_text(encoding="utf-8")]
    sinks.by_sink["request_log"] = [repr(entry) for box in sandboxes for entry in box.request_log.entries]
    sinks.by_sink["elicitation"] = list(ELICITED)
    captured = capfd.readouterr()
    sinks.by_sink["stdout"] = [captured.out]
    sinks.by_sink["stderr"] = [captured.err]
    leaks = sinks.leaks()
    emit(
        capfd,
        "secrets",
        occurrences=sum(len(hits) for hits in leaks.values()),
        canaries=len(CANARIES),
        spellings=len(FORMS),
        sinks=len(sinks.by_sink),
        calls=calls,
        log_records=len(records.lines),
        searched_bytes=sinks.size,
    )
    assert leaks == {}
    # The search is not vacuous: the session did log at debug level, audit, and talk to Code Ocean.
    assert records.lines
    assert ELICITED  # the elicited confirmation was asked, in both eras
    assert '"tool":"delete_data_asset"' in sinks.by_sink["audit_log"][0]
    assert '"tool":' in captured.err  # the loopback run's audit lines went to stderr
    assert any(entry.method == "GET" for box in sandboxes for entry in box.request_log.entries)
    # The GCS credentials were used (the import succeeded), and the revoked token was refused.
    assert any(r.name == "From GCS" and r.state == "ready" for r in sandboxes[0].store.all_assets())
    assert any("rejected the access token" in text for text in sinks.by_sink["error_texts"])


def _asgi(sandbox: Sandbox) -> httpx2.ASGITransport:
    return httpx2.ASGITransport(app=sandbox.app)


INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}


async def mcp_over_http(upstream: str, sandbox: Sandbox, sinks: Sinks) -> int:
    """The session over streamable HTTP with the bearer token, then requests with wrong ones."""
    factory = lambda: CodeOceanClient(upstream, TOKEN, retry=FAST_RETRY, reconcile_delays=(0.0,))  # noqa: E731
    server = build_server(factory, options=options(AuditLog("-")))
    app = http_app(server, Settings(http_token=HTTP_TOKEN), "127.0.0.1")
    with serving_app(app, lifespan="on") as base:
        url = f"{base}/mcp"
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"})
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            calls = await session(client, sandbox, sinks)
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        async with httpx2.AsyncClient() as raw:
            for auth in (None, f"Bearer {HTTP_TOKEN[:-2]}", f"bearer {HTTP_TOKEN}", f"Basic {b64(HTTP_TOKEN + ':')}"):
                sent = {**headers, "Authorization": auth} if auth else headers
                answer = await raw.post(url, json=INIT, headers=sent)
                sinks.add("http_responses", f"{answer.status_code} {dict(answer.headers)} {answer.text}")
                calls += 1
    return calls


async def doctor(url: str, monkeypatch: pytest.MonkeyPatch, sinks: Sinks) -> None:
    from co_mcp.doctor import diagnose, report

    monkeypatch.setenv("CODEOCEAN_DOMAIN", url)
    monkeypatch.setenv(
        "CO_MCP_CREDENTIALS", json.dumps({"lab": {"gcp": {"client_id": GCS_ID, "client_secret": GCS_SECRET}}})
    )
    monkeypatch.setenv("CO_MCP_CONFIRM_SECRET", CONFIRM_SECRET)
    monkeypatch.setenv("CO_MCP_AUDIT_LOG", "-")
    monkeypatch.setenv("CO_MCP_HTTP_TOKEN", HTTP_TOKEN)
    monkeypatch.setenv("CO_MCP_ALLOWED_HOSTS", "mcp.example.org")
    for token in (TOKEN, REVOKED):
        monkeypatch.setenv("CODEOCEAN_TOKEN", token)
        out = io.StringIO()
        report(await diagnose(), out)
        sinks.add("doctor", out.getvalue())


def reprs(sandbox: Sandbox, sinks: Sinks) -> None:
    """What a log line, an assertion or a debugger shows of the objects that hold secrets."""
    client = CodeOceanClient(SANDBOX_URL, TOKEN, transport=_asgi(sandbox))
    held = options(AuditLog("-"))
    for thing in (held, held.signer, held.credentials, client, load_settings(codeocean_token=TOKEN)):
        sinks.add("reprs", repr(thing))
        sinks.add("reprs", str(thing))


def config_errors(tmp_path: Path, sinks: Sinks) -> None:
    """Settings that hold the canaries but are wrong: the errors name the variable, never the value."""
    broken = f'{{"lab": {{"gcp": {{"client_id": "{GCS_ID}", "client_secret": "{GCS_SECRET}"'
    extra = json.dumps({"lab": {"gcp": {"client_id": GCS_ID, "client_secret": GCS_SECRET, "x": GCS_SECRET}}})
    bad_file = tmp_path / "credentials.json"
    bad_file.write_text(extra, encoding="utf-8")
    attempts: list[dict[str, Any]] = [
        {"credentials": broken},
        {"credentials": extra},
        {"credentials_file": str(bad_file)},
        {"codeocean_token": TOKEN, "confirm_ttl": GCS_SECRET},
        {"codeocean_token": TOKEN, "read_timeout": TOKEN},
    ]
    for overrides in attempts:
        try:
            settings = load_settings(**overrides)
            sinks.add("config", repr(settings))
            sinks.add("config", repr(settings.credential_sets()))
        except CoMcpError as exc:
            sinks.add("config", str(exc))


async def test_the_search_finds_each_spelling() -> None:
    """A positive control: the Authorization header the client really sends, a bare base64, hex, the core."""
    sent: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        sent.append(request.headers["authorization"])
        return httpx2.Response(200, json={"fields": []})

    client = CodeOceanClient(SANDBOX_URL, TOKEN, transport=httpx2.MockTransport(answer), retry=FAST_RETRY)
    async with client:
        await client.get_custom_metadata_schema()
    [header] = sent
    assert "token:" + b64(f"{TOKEN}:") in occurrences(f"Authorization: {header}")
    assert occurrences(b64(GCS_SECRET).rstrip("="))
    assert occurrences("..." + TOKEN.rsplit("_", 1)[-1] + "...")
    assert occurrences(binascii.hexlify(CONFIRM_SECRET.encode()).decode().upper())
    assert occurrences("cop_canary_4f9c… (truncated)") == []  # a short prefix alone is not a spelling
