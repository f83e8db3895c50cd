"""The confirmation guard's side in the tools: a plan that reads state and describes a change, and its execution.

A *plan* never changes anything: it reads each asset and what the change depends on, and describes in human
terms exactly what would happen (the ``Preview``). Its fingerprint digests the state the description was made
from, so a confirmation can be tied to it. A plan knows how to act on each of its items (``Plan.act``, set by
the tool that made it); ``execute`` acts on the items one by one, each attempt on the audit log before it is
sent, and one failure does not hide the others. How the user is asked (elicitation or a token) is the server's
part (``co_mcp/server/``); what each tool plans is in its own module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal, Protocol

import anyio
from pydantic import Field

from co_mcp.api.models import DataAssetSearchParams, DataAssetType
from co_mcp.confirm import fingerprint
from co_mcp.errors import APIStatusError, AuditLogError, CodeOceanError, NotFoundError, explain, outcome_unknown
from co_mcp.text import iso_date, quoted
from co_mcp.tools.common import BatchArgs
from co_mcp.tools.views import Foreign, ForeignLine, View, asset_detail, size_text

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.api.models import DataAsset
    from co_mcp.audit import AuditLog

__all__ = [
    "Change",
    "Confirmable",
    "Dependent",
    "GuardItem",
    "GuardResult",
    "GuardedArgs",
    "Plan",
    "PlanItem",
    "Preview",
    "confirm_instruction",
    "execute",
    "look_up_uses",
    "plan_items",
    "refuse_if_draft",
    "results_by_input",
]

PLAN_CONCURRENCY = 8
MAX_DEPENDENTS = 20
# Result assets read to find those derived from a planned asset: five pages of the newest.
RESULT_SCAN = 5000


class GuardedArgs(BatchArgs):
    """Arguments of a tool acting on up to 50 assets through the guard."""

    confirm_token: Annotated[
        str | None, Field(max_length=300, description="from the preview, after the user's yes")
    ] = None

    def signed(self) -> dict[str, Any]:
        """The arguments a confirmation token is bound to: everything but the token, canonical ids."""
        data = self.model_dump(mode="json", exclude={"confirm_token"})
        data["data_asset_ids"] = self.ids()
        return data


class Confirmable(Protocol):
    """What the server needs of any guarded tool's arguments."""

    @property
    def confirm_token(self) -> str | None: ...

    def ids(self) -> list[str]: ...

    def signed(self) -> dict[str, Any]: ...


# --- the preview: what a human approves ------------------------------------------------------------


class Change(View):
    """One thing the action changes on an asset, before -> after."""

    what: Literal[
        "user", "group", "everyone", "share_assets", "files", "name", "description", "mount", "tag", "custom_metadata"
    ]
    subject: ForeignLine | None = None  # the user's email, the group's name, the tag, the metadata key
    before: ForeignLine
    after: ForeignLine

    def as_text(self) -> str:
        subject = f" {quoted(self.subject)}" if self.subject is not None else ""
        return f"{self.what}{subject}: {quoted(self.before)} -> {quoted(self.after)}"


class Dependent(View):
    """Something that uses the asset: a combined asset that contains it, or a result made from it."""

    kind: Literal["combined", "result"]
    id: str
    name: Foreign


class PreviewItem(View):
    """One asset the action would change: what it is, what uses it, and what would change."""

    id: str
    name: Foreign
    type: str
    state: str
    size: int | None = None
    files: int | None = None
    owner: ForeignLine | None = None
    created: str | None = None
    external: bool | None = None
    used_by: list[Dependent] | None = None  # None only where uses are not looked up (share, transfer, update)
    used_by_note: str | None = None  # how complete the look-up was
    changes: list[Change] | None = None

    def lines(self, n: int) -> list[str]:
        facts = [f"{self.type} {self.state}", size_text(self.size, self.state)]
        if self.files is not None:
            facts.append(f"{self.files} files")
        if self.owner:
            facts.append(f"owner {quoted(self.owner)}")
        if self.created:
            facts.append(f"created {self.created}")
        if self.external:
            facts.append("external")
        lines = [f"{n}. {quoted(self.name)} {self.id}", "   " + "; ".join(facts)]
        if self.used_by is not None:
            uses = "; ".join(f"{d.kind} {quoted(d.name)} {d.id}" for d in self.used_by) or "nothing found"
            note = f" ({self.used_by_note})" if self.used_by_note else ""
            lines.append(f"   used by: {uses}{note}")
        lines += [f"   {change.as_text()}" for change in self.changes or []]
        return lines


class Unaffected(View):
    """An asset left out of the action: already as asked, or not possible (not found, no access, its state)."""

    id: str
    name: Foreign | None = None
    reason: ForeignLine


class Preview(View):
    """Exactly what a confirmation would do: the human reads this before saying yes."""

    action: str  # "archive", "permanently delete", ...
    warning: str | None = None  # what the action risks; left out when nothing would be done
    items: list[PreviewItem]
    sends: dict[str, ForeignLine | bool] | None = None  # the settings sent with each asset (transfer)
    no_change: list[Unaffected] | None = None
    not_possible: list[Unaffected] | None = None

    def as_text(self, *, done: bool = False) -> str:
        """The same words in a tool result and in an elicitation question.

        ``done``: the change was made at once (it removed nothing), so this is what changed, not a proposal.
        """
        if self.items:
            head = "Changed" if done else "Preview"
            lines = [f"{head}: {self.action} {len(self.items)} data asset(s). {self.warning}"]
        else:
            lines = [f"Nothing to {self.action}."]
        for n, item in enumerate(self.items, 1):
            lines += item.lines(n)
        if self.sends:
            lines.append("Sent with each: " + ", ".join(f"{key} {quoted(value)}" for key, value in self.sends.items()))
        for label, entries in (("no change", self.no_change), (f"cannot {self.action}", self.not_possible)):
            for entry in entries or []:
                name = f"{quoted(entry.name)} " if entry.name is not None else ""
                lines.append(f"- {name}{entry.id}: {label}: {quoted(entry.reason)}")
        return "\n".join(lines)


# --- the plan ----------------------------------------------------------------------------------------


@dataclass
class PlanItem:
    """What would happen to one asset, and the state that judgement rests on."""

    data_asset_id: str
    asset: DataAsset | None = None
    error: str | None = None  # it cannot be acted on (not found, no access, its state)
    no_change: str | None = None  # it is already in the requested state
    used_by: list[Dependent] | None = None
    used_by_note: str | None = None
    changes: list[Change] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def actionable(self) -> bool:
        return self.asset is not None and self.error is None and self.no_change is None

    def unaffected(self, reason: str) -> Unaffected:
        return Unaffected(id=self.data_asset_id, name=self.asset.name if self.asset else None, reason=reason)

    def preview(self) -> PreviewItem:
        assert self.asset is not None
        asset = self.asset
        return PreviewItem(
            id=asset.id,
            name=asset.name,
            type=str(asset.type),
            state=str(asset.state),
            size=asset.size,
            files=asset.files,
            owner=asset.owner_email or asset.owner,
            created=iso_date(asset.created),
            external=True if asset.is_external else None,
            used_by=self.used_by,
            used_by_note=self.used_by_note,
            changes=self.changes or None,
        )


# How a plan acts on one of its items: one request to Code Ocean.
Act = Callable[["CodeOceanClient", PlanItem], Awaitable[None]]


@dataclass
class Plan:
    """What a guarded call would do, and how to do it once confirmed."""

    tool: str
    verb: str  # "archive", "permanently delete", ...
    items: list[PlanItem]
    warning: str
    act: Act
    arguments: dict[str, Any]  # the call's arguments, as the audit log records them
    sends: dict[str, str | bool] | None = None
    # False for a change that removes nothing (an update that adds tags or renames): it acts without asking.
    needs_confirmation: bool = True
    # The audit log keeps each asset's full metadata with the attempt (a delete: the record outlives the asset).
    record_assets: bool = False

    @property
    def fingerprint(self) -> str:
        # The state read, not the words chosen to describe it (an error's type is in the state).
        return fingerprint({i.data_asset_id: [i.state, i.no_change] for i in self.items})

    @property
    def actionable(self) -> list[PlanItem]:
        return [i for i in self.items if i.actionable]

    def preview(self) -> Preview:
        return Preview(
            action=self.verb,
            warning=self.warning if self.actionable else None,
            items=[i.preview() for i in self.actionable],
            sends=self.sends if self.actionable else None,
            no_change=[i.unaffected(i.no_change) for i in self.items if i.no_change] or None,
            not_possible=[i.unaffected(i.error) for i in self.items if i.error] or None,
        )


async def plan_items(
    client: CodeOceanClient, ids: list[str], describe: Callable[[PlanItem], Awaitable[None]]
) -> list[PlanItem]:
    """Read each asset (in parallel, bounded) and let ``describe`` judge it; one failure stays with its item."""
    items = {i: PlanItem(i) for i in ids}
    limiter = anyio.CapacityLimiter(PLAN_CONCURRENCY)

    async def one(item: PlanItem) -> None:
        async with limiter:
            try:
                item.asset = await client.get_data_asset(item.data_asset_id)
                item.state["asset"] = [item.asset.name, str(item.asset.state), item.asset.size, item.asset.owner]
                await describe(item)
            except CodeOceanError as exc:
                item.error = explain(exc)
                item.state = {"error": type(exc).__name__}

    async with anyio.create_task_group() as group:
        for item in items.values():
            group.start_soon(one, item)
    return list(items.values())


def refuse_if_draft(item: PlanItem, verb: str) -> bool:
    """Code Ocean refuses (409) to archive, delete or transfer an asset whose files are still being copied in."""
    assert item.asset is not None
    if str(item.asset.state) != "draft":
        return False
    item.error = (
        f"it is still being created (draft), and Code Ocean refuses to {verb} it until it is ready or failed: "
        "call wait_for_data_asset, then preview again"
    )
    item.state["draft"] = True
    return True


# --- what uses an asset ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsByInput:
    """Which result assets name which inputs in their provenance, from one bounded scan per plan."""

    by_input: dict[str, list[Dependent]]
    scanned: int
    complete: bool

    def note(self) -> str | None:
        return None if self.complete else f"of derived results, only the {self.scanned} most recent were checked"


async def results_by_input(client: CodeOceanClient) -> ResultsByInput:
    # Search has no field for provenance, so results are scanned (newest first, bounded) and indexed
    # by the inputs their provenance lists: one scan serves every asset in the plan.
    by_input: dict[str, list[Dependent]] = {}
    scanned = 0
    params = DataAssetSearchParams(type=DataAssetType.RESULT, limit=1000)
    async for result in client.iter_data_assets(params, max_items=RESULT_SCAN):
        scanned += 1
        for input_id in (result.provenance.data_assets if result.provenance else None) or []:
            by_input.setdefault(input_id, []).append(Dependent(kind="result", id=result.id, name=result.name))
    return ResultsByInput(by_input, scanned, complete=scanned < RESULT_SCAN)


async def look_up_uses(client: CodeOceanClient, item: PlanItem, derived: ResultsByInput) -> None:
    """Combined assets that contain it, and result assets whose provenance lists it."""
    assert item.asset is not None
    # Archived combined assets still contain it (and come back with unarchive): both searches count.
    query = f"contained_data_id:{item.asset.id}"
    pages = [
        await client.search_data_assets(DataAssetSearchParams(query=query, limit=MAX_DEPENDENTS, archived=archived))
        for archived in (None, True)
    ]
    combined = [a for page in pages for a in page.results if a.id != item.asset.id]
    item.used_by = [Dependent(kind="combined", id=a.id, name=a.name) for a in combined]
    item.used_by += derived.by_input.get(item.asset.id, [])
    more = any(page.has_more for page in pages)
    notes = [f"more than {MAX_DEPENDENTS} combined assets contain it"] if more else []
    notes += [note for note in [derived.note()] if note]
    item.used_by_note = "; ".join(notes) or None
    item.state["dependents"] = [d.id for d in item.used_by]


# --- acting ---------------------------------------------------------------------------------------------

_VERBS = {
    "archive_data_asset": "archived",
    "delete_data_asset": "deleted",
    "share_data_asset": "permissions changed",
    "transfer_data_asset": "transfer started",
    "update_data_asset": "updated",
}


class GuardItem(View):
    """What happened to one asset once the action ran."""

    id: str
    name: Foreign | None = None
    outcome: Literal["done", "failed", "unknown", "no_change", "skipped"]
    detail: ForeignLine | None = None


class GuardResult(View):
    """A guarded call's outcome: a preview (nothing done; a token and what to do with it), or per-item results.

    The structured content and the text both carry the preview, and every token travels with its preview and
    ``next_step``: a host that shows the model only one channel still shows what the user must approve.
    """

    tool: str
    performed: bool
    refused: str | None = None
    preview: Preview | None = None
    confirm_token: str | None = None
    expires_in: int | None = None
    next_step: str | None = None
    items: list[GuardItem] | None = None

    def is_error(self) -> bool:
        # The action ran and nothing came of it: every item failed or could not be acted on.
        return bool(self.items) and all(item.outcome in ("failed", "skipped") for item in self.items or [])

    def as_text(self) -> str:
        lines = [f"{self.tool}: {self.refused}" if self.refused else f"{self.tool}:"]
        if self.items is not None:
            done = sum(1 for item in self.items if item.outcome == "done")
            lines.append(f"Done for {done} of {len(self.items)} data asset(s):")
            for item in self.items:
                label = f"{quoted(item.name)} {item.id}" if item.name is not None else item.id
                outcome = f"done ({_VERBS[self.tool]})" if item.outcome == "done" else item.outcome
                lines.append(f"- {label}: {outcome}" + (f": {quoted(item.detail)}" if item.detail else ""))
        if self.preview is not None:
            lines.append(self.preview.as_text(done=self.performed))
        if self.confirm_token:
            lines.append(f"confirm_token={quoted(self.confirm_token)} expires_in={self.expires_in}s")
        if self.next_step:
            lines.append(self.next_step)
        return "\n".join(lines)


def confirm_instruction(tool: str, expires_in: int) -> str:
    """What the model must do with a token: the human-in-the-loop rule, next to every token."""
    minutes = max(1, expires_in // 60)
    return (
        "Nothing has been done. Show this preview to the user and ask for an explicit yes. Only after it, call "
        f"{tool} again with the same arguments plus confirm_token (valid {minutes} min). If they say no, do not "
        "call it again."
    )


async def execute(client: CodeOceanClient, plan: Plan, audit: AuditLog) -> list[GuardItem]:
    """Act on each actionable item in order, each one's attempt on the audit log before it is sent.

    If the audit log cannot take an attempt line, that item and every later one are not sent; when nothing
    was sent yet, the AuditLogError is raised, as for any write. If it cannot take an outcome line, the item's
    real outcome is still reported, saying the log could not record it: reporting a failure would invite a
    retry of something that happened.
    """
    outcomes: list[GuardItem] = []
    blocked: AuditLogError | None = None
    acted = False
    for item in plan.items:
        name = item.asset.name if item.asset else None
        if item.error is not None:
            outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome="skipped", detail=item.error))
            continue
        if item.no_change is not None:
            outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome="no_change", detail=item.no_change))
            continue
        record = asset_detail(item.asset).structured_content() if plan.record_assets and item.asset else None
        if blocked is None:
            try:
                # Before the act: if the process dies mid-call, the record of the attempt (and of a deleted
                # asset's metadata) survives; if the line cannot be written, nothing is sent.
                await audit.write(
                    plan.tool, outcome="attempt", data_asset_ids=[item.data_asset_id], arguments=plan.arguments,
                    fingerprint=plan.fingerprint, deleted=record,
                )  # fmt: skip
            except AuditLogError as exc:
                if not acted:
                    raise
                blocked = exc
        if blocked is not None:
            detail = f"not sent: {blocked}"
            outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome="skipped", detail=detail))
            continue
        acted = True
        try:
            await plan.act(client, item)
        except CodeOceanError as exc:
            status = exc.status_code if isinstance(exc, APIStatusError) else None
            message = exc.message if isinstance(exc, APIStatusError) else str(exc)
            # An ambiguous failure may have acted: "unknown", never "failed", or a retry could repeat it.
            outcome: Literal["failed", "unknown"] = "unknown" if outcome_unknown(exc) else "failed"
            unrecorded = await _record_outcome(audit, plan, item, outcome=outcome, status=status, message=message)
            detail = "it disappeared between preview and action" if isinstance(exc, NotFoundError) else explain(exc)
            detail += f"; {unrecorded}" if unrecorded else ""
            outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome=outcome, detail=detail))
            continue
        unrecorded = await _record_outcome(audit, plan, item, outcome="done", status=204, deleted=record)
        outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome="done", detail=unrecorded))
    return outcomes


async def _record_outcome(
    audit: AuditLog,
    plan: Plan,
    item: PlanItem,
    *,
    outcome: str,
    status: int | None,
    message: str | None = None,
    deleted: dict[str, Any] | None = None,
) -> str | None:
    """Write an item's outcome line: None if written, else words for the item saying it could not be."""
    try:
        await audit.write(
            plan.tool, outcome=outcome, data_asset_ids=[item.data_asset_id], arguments=plan.arguments,
            status=status, message=message, fingerprint=plan.fingerprint, deleted=deleted,
        )  # fmt: skip
    except AuditLogError as exc:
        return exc.unrecorded()
    return None
