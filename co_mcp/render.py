"""Compact text for the model to read: one line per asset, people's text quoted as data, no nulls.

Text written by other people (names, descriptions, tags, metadata) is always shown as a JSON string
literal, so it reads as data rather than as part of co_mcp's own sentences; it was cleaned of invisible
characters when the view was built.
"""

from __future__ import annotations

import re
from functools import singledispatch
from typing import Any

from co_mcp.audit import AuditLogError
from co_mcp.errors import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    CodeOceanError,
    CoMcpError,
    ConflictError,
    CreateOutcomeUnknownError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from co_mcp.text import human_size, quoted
from co_mcp.tools.assets import CreateResult, GetResult, UpdateResult, WaitResult
from co_mcp.tools.files import FileUrls, FolderListing, ReadFileResult
from co_mcp.tools.guarded import GuardResult
from co_mcp.tools.schema import MetadataSchema
from co_mcp.tools.search import SearchResult
from co_mcp.tools.views import AssetDetail, AssetSummary, PermissionsView, View

__all__ = ["explain", "quoted", "render"]

_ASSET_PATH = re.compile(r"data_assets/([0-9a-f-]{36})")


def size_text(size: int | None) -> str:
    if size is None:
        return "size unknown"
    return f"{size} B" if size < 1000 else f"{human_size(size)} ({size} B)"


@singledispatch
def render(view: View) -> str:
    """Fallback: compact JSON of the view, nulls dropped."""
    return quoted(view.wire())


def summary_line(asset: AssetSummary) -> str:
    """One asset on one line: the facts to choose by; exact bytes and the rest come from get_data_asset."""
    parts = [f"{quoted(asset.name)} {asset.id}", f"{asset.type} {asset.state}", human_size(asset.size)]
    parts += [value for value in (asset.created, asset.owner) if value]
    if asset.external:
        parts.append("external")
    if asset.tags:
        more = f" +{asset.more_tags}" if asset.more_tags else ""
        parts.append(f"tags {tags_text(asset.tags)}{more}")
    if asset.snippet:
        parts.append(f"about {quoted(asset.snippet)}")
    return "; ".join(parts)


@render.register
def _(view: AssetSummary) -> str:
    return summary_line(view)


@render.register
def _(view: SearchResult) -> str:
    if not view.results:
        where = "archived " if view.archived else ""
        return f"No {where}data assets match. Try fewer or broader terms, or drop filters."
    head = f"{len(view.results)} {'archived ' if view.archived else ''}data asset(s)"
    head += f"; more available: pass cursor={quoted(view.cursor)}" if view.has_more else "; no more results"
    lines = [head + ":"]
    lines += [f"{n}. {summary_line(a)}" for n, a in enumerate(view.results, 1)]
    return "\n".join(lines)


def fields_text(value: dict[str, Any]) -> str:
    """A record whose keys Code Ocean defines (source, provenance): bare keys, people's values quoted.

    A source's origin is one of Code Ocean's own words (aws, gcp), so it leads, bare.
    """
    origin = value.get("origin")
    lead = [origin] if isinstance(origin, str) and origin.isalnum() else []
    rest = {key: item for key, item in value.items() if not (lead and key == "origin")}
    return " ".join([*lead, *(f"{key}={quoted(item)}" for key, item in rest.items())])


def tags_text(tags: list[str]) -> str:
    """Each tag its own string literal: a tag is people's text, and one literal per tag keeps commas inside it."""
    return " ".join(quoted(tag) for tag in tags)


def detail_text(asset: AssetDetail) -> str:
    lines = [f"{quoted(asset.name)} {asset.id} {asset.type} {asset.state}"]
    facts = [size_text(asset.size)]
    if asset.files is not None:
        facts.append(f"{asset.files} files")
    if asset.created:
        facts.append(f"created {asset.created}")
    facts.append(f"used {asset.last_used}" if asset.last_used else "never used")
    facts.append(f"owner {asset.owner or asset.owner_id}")
    lines.append("; ".join(facts))
    lines.append(f"mount {quoted(asset.mount)}")
    if asset.failure_reason:
        lines.append(f"failure reason: {quoted(asset.failure_reason)}")
    if asset.tags:
        lines.append(f"tags {tags_text(asset.tags)}")
    if asset.description:
        lines.append(f"about {quoted(asset.description)}")
    # Custom metadata keys and app parameter names are people's words too, so those records stay JSON.
    if asset.custom_metadata:
        lines.append(f"metadata {quoted(asset.custom_metadata)}")
    if asset.provenance:
        lines.append(f"provenance {fields_text(asset.provenance)}")
    if asset.source:
        lines.append(f"source {fields_text(asset.source)}")
    for label, value in (("contains", asset.contained), ("app parameters", asset.app_parameters)):
        if value:
            lines.append(f"{label} {quoted(value)}")
    if asset.nextflow_profile:
        lines.append(f"nextflow profile {quoted(asset.nextflow_profile)}")
    if asset.last_transferred or asset.transfer_error:
        error = f"; error {quoted(asset.transfer_error)}" if asset.transfer_error else ""
        lines.append(f"last transferred {asset.last_transferred or 'never'}{error}")
    return "\n".join(lines)


@render.register
def _(view: AssetDetail) -> str:
    return detail_text(view)


@render.register
def _(view: GetResult) -> str:
    blocks = [detail_text(a) for a in view.assets]
    blocks += [f"{e.id}: {e.error}" for e in view.errors]
    if view.errors and view.assets:
        blocks.insert(0, f"{len(view.assets)} found, {len(view.errors)} failed.")
    return "\n\n".join(blocks)


@render.register
def _(view: CreateResult) -> str:
    asset = view.asset
    mount = f"mount {quoted(view.mount)}"
    if asset.state == "draft":
        after = (
            f"Still draft after waiting; call wait_for_data_asset with data_asset_id={asset.id}."
            if view.timed_out
            else f"It is being created: call wait_for_data_asset with data_asset_id={asset.id} before using it."
        )
    elif asset.state == "failed":
        after = f"Creation failed: {quoted(view.failure_reason or 'no reason given')}."
    else:
        after = "It is ready to use."
    if view.wait_error:
        after = (
            f"It was created, but waiting for it failed: {view.wait_error} Do not create it again: call "
            f"wait_for_data_asset with data_asset_id={asset.id}."
        )
    return f"Created data asset.\n{summary_line(asset)}; {mount}\n{after}"


@render.register
def _(view: UpdateResult) -> str:
    return f"Updated {', '.join(view.changed)}.\n{summary_line(view.asset)}"


@render.register
def _(view: WaitResult) -> str:
    line = summary_line(view.asset)
    if view.timed_out:
        return f"Still {view.state} when the wait ended; creation continues, so wait again later.\n{line}"
    if view.state == "failed":
        return f"Creation failed: {quoted(view.failure_reason or 'no reason given')}.\n{line}"
    return f"Data asset is {view.state}.\n{line}"


@render.register
def _(view: PermissionsView) -> str:
    users = ", ".join(f"{quoted(u.email)} {u.role}" for u in view.users) or "none"
    groups = ", ".join(f"{quoted(g.group)} {g.role}" for g in view.groups) or "none"
    share = "" if view.share_assets is None else f"; share_assets {str(view.share_assets).lower()}"
    return f"Permissions of {view.data_asset_id}: users {users}; groups {groups}; everyone {view.everyone}{share}"


@render.register
def _(view: FolderListing) -> str:
    where = quoted(view.path or "/")
    if not view.items:
        return f"Folder {where} of {view.data_asset_id} is empty."
    lines = [f"Folder {where} of {view.data_asset_id}: {len(view.items)} item(s); list a folder by passing its path."]
    for item in view.items:
        if item.type == "folder":
            lines.append(f"{quoted(item.path)}/ folder")
        else:
            lines.append(f"{quoted(item.path)} {size_text(item.size)}")
    return "\n".join(lines)


@render.register
def _(view: FileUrls) -> str:
    return (
        f"Signed links for {quoted(view.path)} of {view.data_asset_id} (they expire; no token needed):\n"
        f"download {view.download_url}\nview {view.view_url}"
    )


@render.register
def _(view: ReadFileResult) -> str:
    end = view.offset + view.length
    total = f" of {size_text(view.total_size)}" if view.total_size is not None else ""
    head = f"{quoted(view.path)} bytes {view.offset}-{end}{total}"
    more = f"; more: read again with offset={view.next_offset}" if view.has_more else "; end of file"
    if view.binary is not None:
        return f"{head}: {view.binary}{more if view.has_more else ''}"
    return f"{head} ({view.encoding}){more}\n{view.text}"


@render.register
def _(view: MetadataSchema) -> str:
    if not view.fields:
        return "This deployment defines no custom metadata fields."
    lines = ["Custom metadata fields (use their names as keys in custom_metadata and search filters):"]
    for f in view.fields:
        bits = [f.type]
        if f.units:
            bits.append(f"in {quoted(f.units)}")
        if f.allowed_values:
            bits.append(f"one of {quoted(f.allowed_values)}")
        if f.min is not None or f.max is not None:
            bits.append(f"range {f.min if f.min is not None else ''}..{f.max if f.max is not None else ''}")
        if f.multiple:
            bits.append("several values allowed")
        if f.required:
            bits.append("required")
        if f.type == "date":
            bits.append("as epoch seconds")
        lines.append(f"{quoted(f.name)}: {', '.join(bits)}")
    return "\n".join(lines)


_VERBS = {
    "archive_data_asset": "archived",
    "delete_data_asset": "deleted",
    "share_data_asset": "permissions changed",
    "transfer_data_asset": "transfer started",
}


@render.register
def _(view: GuardResult) -> str:
    if view.performed:
        done = sum(1 for item in view.items if item.outcome == "done")
        lines = [f"Done for {done} of {len(view.items)} data asset(s):"]
        for item in view.items:
            label = f"{quoted(item.name)} {item.id}" if item.name else item.id
            if item.outcome == "done":
                lines.append(
                    f"- {label}: {_VERBS.get(view.tool, 'done')}" + (f", but {item.detail}" if item.detail else "")
                )
            else:
                lines.append(
                    f"- {label}: {item.outcome.replace('_', ' ')}" + (f", {item.detail}" if item.detail else "")
                )
        return "\n".join(lines)
    lines = [view.refused] if view.refused else []
    if view.preview:
        lines.append(view.preview)
    if view.confirm_token:
        minutes = max(1, (view.expires_in or 300) // 60)
        lines.append(
            "Nothing has been done. Show this preview to the user and ask for an explicit yes. Only after it, call "
            f"{view.tool} again with the same arguments plus confirm_token={quoted(view.confirm_token)} "
            f"(valid {minutes} min). If they say no, do not call it again."
        )
    return "\n".join(lines)


def _asset_id(exc: CodeOceanError) -> str | None:
    match = _ASSET_PATH.search(exc.path)
    return match.group(1) if match else None


_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _said(message: str) -> str:
    """Code Ocean's message without its closing period; it is then quoted, as text from outside."""
    return message.rstrip(" .")


def explain(exc: BaseException) -> str:
    """What failed, why, and what to try next, in words a model can act on. Never the token or HTML."""
    if isinstance(exc, InvalidArgumentError):
        return f"Invalid argument {exc}. Nothing was sent to Code Ocean."
    if isinstance(exc, CreateOutcomeUnknownError | WaitTimeoutError):
        return str(exc)
    if isinstance(exc, NotFoundError):
        asset_id = _asset_id(exc)
        within = exc.path.split(asset_id, 1)[1] if asset_id else ""
        if asset_id and not within.startswith("/files"):
            # The asset itself, or one of its parts that has no path of its own (permissions, archive, transfer).
            return (
                f"No data asset {asset_id} is visible to your Code Ocean access token: it may not exist, may have "
                "been deleted, or is not shared with you. search_data_assets finds assets by name."
            )
        said = quoted(_said(exc.message))
        if asset_id:
            return f"Not found: {said}. Check the id and the path; list_data_asset_files shows what exists."
        return f"Not found: {said}. Check the ids given; search_data_assets finds data assets by name."
    if isinstance(exc, AuthenticationError):
        return (
            "Code Ocean rejected the access token (401). The server's CODEOCEAN_TOKEN must be fixed by the user; "
            "retrying will not help."
        )
    if isinstance(exc, PermissionDeniedError):
        return (
            f"Not allowed (403): {quoted(_said(exc.message))}. The token may be read-only (writes need the Datasets "
            "read & write scope), or the user lacks the owner or editor role on this asset."
        )
    if isinstance(exc, ConflictError):
        # The state is not known here (draft, failed, locked, used by pipelines...): words right for any of them.
        return (
            f"Conflict ({exc.status_code}): {quoted(_said(exc.message))}. The current state of what this concerns "
            "does not allow it; get_data_asset shows an asset's state. Only an asset still in draft is worth "
            "waiting for (wait_for_data_asset); a failed one stays failed."
        )
    if isinstance(exc, BadRequestError):
        return f"Code Ocean rejected the request (400): {quoted(_said(exc.message))}. Correct that argument and retry."
    if isinstance(exc, RateLimitedError):
        return "Code Ocean is rate limiting requests (429) and retries ran out. Wait a minute before trying again."
    if isinstance(exc, ServerError):
        said = quoted(_said(exc.message))
        if exc.method in _WRITES and not exc.path.endswith("/search"):
            return (
                f"Code Ocean failed (HTTP {exc.status_code}): {said}. The change may or may not have happened: "
                "check with get_data_asset before trying again."
            )
        return f"Code Ocean failed (HTTP {exc.status_code}) even after retries: {said}. Try again later."
    if isinstance(exc, APIStatusError):
        return f"Code Ocean answered HTTP {exc.status_code}: {quoted(_said(exc.message))}."
    if isinstance(exc, TransportError):
        return f"Could not reach Code Ocean: {exc}. Retries ran out; check the network or try again later."
    if isinstance(exc, InvalidResponseError):
        return f"Code Ocean sent an unexpected response: {exc}. The server may be a version co_mcp does not know."
    if isinstance(exc, AuditLogError):
        return (
            f"Nothing was sent to Code Ocean: {exc}, and co_mcp records every change before making it. The "
            "server's operator must fix the audit log (CO_MCP_AUDIT_LOG); retrying will not help until then."
        )
    if isinstance(exc, CoMcpError):
        return str(exc)
    return "Internal error in co_mcp; it has been logged. Try again, or report it if it persists."
