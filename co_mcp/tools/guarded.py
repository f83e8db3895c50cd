"""Destructive tools' logic: plan (read state, describe consequences) and execute, one item at a time.

A *plan* never changes anything: it reads each asset, what depends on it, and (for share) the
current permissions, and describes in human terms exactly what would happen. Its fingerprint digests
the state the description was made from, so a confirmation can be tied to it. *Execute* acts on the
plan's items one by one; one failure does not hide the others, and nothing pretends to roll back.
Every attempt is written to the audit log before it is sent, and its outcome before it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio
from pydantic import Field, field_validator, model_validator

from co_mcp.api.models import (
    AWSS3Target,
    DataAssetSearchParams,
    DataAssetType,
    DataAssetUpdateParams,
    GroupPermission,
    Permissions,
    Target,
    TransferDataParams,
    UserPermission,
)
from co_mcp.audit import AuditLogError
from co_mcp.confirm import canonical, fingerprint
from co_mcp.errors import APIStatusError, CodeOceanError, NotFoundError, outcome_unknown
from co_mcp.text import iso_date
from co_mcp.tools.assets import UpdateArgs
from co_mcp.tools.common import Args, BatchArgs, ExplainFn, PlainText
from co_mcp.tools.views import Foreign, ForeignLine, View, asset_detail

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from co_mcp.api.client import CodeOceanClient
    from co_mcp.api.models import DataAsset
    from co_mcp.audit import AuditLog

__all__ = [
    "ArchiveArgs",
    "Change",
    "Confirmable",
    "DeleteArgs",
    "GuardItem",
    "GuardResult",
    "GuardedArgs",
    "Plan",
    "Preview",
    "ShareArgs",
    "TransferArgs",
    "confirm_instruction",
    "execute",
    "plan_archive",
    "plan_delete",
    "plan_share",
    "plan_transfer",
    "plan_update",
]

PLAN_CONCURRENCY = 8
MAX_DEPENDENTS = 20
# Result assets read to find those derived from a planned asset: five pages of the newest.
RESULT_SCAN = 5000


class GuardedArgs(BatchArgs):
    confirm_token: Annotated[
        str | None, Field(max_length=300, description="from the preview, after the user's yes")
    ] = None

    def signed(self) -> dict[str, Any]:
        """The arguments a confirmation token is bound to: everything but the token, canonical ids."""
        data = self.model_dump(mode="json", exclude={"confirm_token"})
        data["data_asset_ids"] = self.ids()
        return data


class ArchiveArgs(GuardedArgs):
    pass


class DeleteArgs(GuardedArgs):
    pass


class UserShare(Args):
    email: Annotated[PlainText, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    role: Literal["owner", "editor", "viewer"]

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class GroupShare(Args):
    group: Annotated[PlainText, Field(min_length=1, max_length=200)]
    role: Literal["owner", "editor", "viewer", "discoverable"]


class ShareArgs(GuardedArgs):
    users: Annotated[list[UserShare] | None, Field(max_length=50, description="added or role changed")] = None
    groups: Annotated[list[GroupShare] | None, Field(max_length=50)] = None
    everyone: Literal["viewer", "discoverable", "none"] | None = None
    share_assets: Annotated[bool | None, Field(description="also share attached assets and capsules")] = None

    @model_validator(mode="after")
    def _some_change(self) -> ShareArgs:
        if not self.users and not self.groups and self.everyone is None and self.share_assets is None:
            raise ValueError("nothing to share: give users, groups, everyone or share_assets")
        # One role per person or group: with two, the preview would promise one and the last would win.
        emails = [u.email for u in self.users or []]
        groups = [g.group for g in self.groups or []]
        for kind, names in (("users", emails), ("groups", groups)):
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValueError(f"{kind}: each may appear once, but {', '.join(repeated)} appear more than once")
        return self


class TransferArgs(GuardedArgs):
    bucket: Annotated[PlainText, Field(min_length=3, max_length=255, description="target S3 bucket")]
    prefix: Annotated[PlainText | None, Field(max_length=1024)] = None
    endpoint_name: Annotated[PlainText | None, Field(max_length=255)] = None
    force: Annotated[bool, Field(description="required when release pipelines use the asset")] = False


class Change(View):
    """One thing the action changes on an asset, before -> after."""

    what: Literal[
        "user", "group", "everyone", "share_assets", "files", "name", "description", "mount", "tag", "custom_metadata"
    ]
    subject: ForeignLine | None = None  # the user's email or the group's name
    before: ForeignLine
    after: ForeignLine


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
    used_by: list[Dependent] | None = None  # None only where uses are not looked up (share, transfer)
    used_by_note: str | None = None  # how complete the look-up was
    changes: list[Change] | None = None


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
    permissions: Permissions | None = None  # share: the permissions to send
    update: DataAssetUpdateParams | None = None  # update: the body to send

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


@dataclass
class Plan:
    tool: str
    verb: str  # "archive", "permanently delete", ...
    items: list[PlanItem]
    warning: str
    sends: dict[str, str | bool] | None = None
    # False for a change that removes nothing (an update that adds tags or renames): it acts without asking.
    needs_confirmation: bool = True

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


@dataclass(frozen=True)
class Derived:
    """Which result assets name which inputs in their provenance, from one bounded scan per plan."""

    by_input: dict[str, list[Dependent]]
    scanned: int
    complete: bool

    def note(self) -> str | None:
        return None if self.complete else f"of derived results, only the {self.scanned} most recent were checked"


async def _derived_results(client: CodeOceanClient) -> Derived:
    # Search has no field for provenance, so results are scanned (newest first, bounded) and indexed
    # by the inputs their provenance lists: one scan serves every asset in the plan.
    by_input: dict[str, list[Dependent]] = {}
    scanned = 0
    params = DataAssetSearchParams(type=DataAssetType.RESULT, limit=1000)
    async for result in client.iter_data_assets(params, max_items=RESULT_SCAN):
        scanned += 1
        for input_id in (result.provenance.data_assets if result.provenance else None) or []:
            by_input.setdefault(input_id, []).append(Dependent(kind="result", id=result.id, name=result.name))
    return Derived(by_input, scanned, complete=scanned < RESULT_SCAN)


async def _look_up_uses(client: CodeOceanClient, item: PlanItem, derived: Derived) -> None:
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


async def _is_archived(client: CodeOceanClient, asset: DataAsset) -> bool:
    """The API has no archived flag on assets; an archived-only search by name tells."""
    name = asset.name.replace('"', " ")
    page = await client.search_data_assets(DataAssetSearchParams(query=f'name:"{name}"', archived=True, limit=100))
    return any(a.id == asset.id for a in page.results)


def _still_draft(item: PlanItem, verb: str) -> bool:
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


async def _plan(
    client: CodeOceanClient,
    ids: list[str],
    explain: ExplainFn,
    describe: Callable[[PlanItem], Awaitable[None]],
) -> list[PlanItem]:
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


async def plan_archive(client: CodeOceanClient, args: ArchiveArgs, explain: ExplainFn) -> Plan:
    derived = await _derived_results(client)

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        archived = await _is_archived(client, item.asset)
        item.state["archived"] = archived
        if archived:
            item.no_change = "already archived"
            return
        if not _still_draft(item, "archive"):
            await _look_up_uses(client, item, derived)

    items = await _plan(client, args.ids(), explain, describe)
    return Plan(
        "archive_data_asset",
        "archive",
        items,
        "Archived assets disappear from default searches, and capsules or pipelines that use them may break. "
        "unarchive_data_asset reverses it.",
    )


async def plan_delete(client: CodeOceanClient, args: DeleteArgs, explain: ExplainFn) -> Plan:
    derived = await _derived_results(client)

    async def describe(item: PlanItem) -> None:
        if not _still_draft(item, "delete"):
            await _look_up_uses(client, item, derived)

    items = await _plan(client, args.ids(), explain, describe)
    external = any(i.actionable and i.asset is not None and i.asset.is_external for i in items)
    return Plan(
        "delete_data_asset",
        "permanently delete",
        items,
        "Deletion cannot be undone: the files, metadata and provenance are lost, and whatever uses them breaks."
        + (" For an external asset the files in its bucket stay; the Code Ocean record goes." if external else ""),
    )


def _merge(current: Permissions, args: ShareArgs) -> tuple[Permissions, list[Change]]:
    """The permissions to send (upserts) and a before -> after change for each difference."""
    changes: list[Change] = []
    users = {u.email.lower(): str(u.role) for u in current.users or []}
    send_users: list[UserPermission] = []
    for user in args.users or []:
        before = users.get(user.email)
        if before != user.role:
            changes.append(Change(what="user", subject=user.email, before=before or "no access", after=user.role))
            send_users.append(UserPermission(email=user.email, role=user.role))
    groups = {g.group: str(g.role) for g in current.groups or []}
    send_groups: list[GroupPermission] = []
    for group in args.groups or []:
        before = groups.get(group.group)
        if before != group.role:
            changes.append(Change(what="group", subject=group.group, before=before or "no access", after=group.role))
            send_groups.append(GroupPermission(group=group.group, role=group.role))
    everyone = None
    current_everyone = str(current.everyone or "none")
    if args.everyone is not None and args.everyone != current_everyone:
        changes.append(Change(what="everyone", before=current_everyone, after=args.everyone))
        everyone = args.everyone
    share_assets = None
    if args.share_assets is not None and args.share_assets != bool(current.share_assets):
        before_share = str(bool(current.share_assets)).lower()
        changes.append(Change(what="share_assets", before=before_share, after=str(args.share_assets).lower()))
        share_assets = args.share_assets
    send = Permissions(
        users=send_users or None, groups=send_groups or None, everyone=everyone, share_assets=share_assets
    )
    return send, changes


def _share_warning(args: ShareArgs) -> str:
    """What the change risks, in proportion: only the kinds of widening it actually asks for."""
    risks = []
    if args.users or args.groups:
        risks.append("the users and groups named can read the data (or edit it, with editor or owner)")
    if args.everyone == "viewer":
        risks.append("everyone=viewer opens it to the whole deployment")
    elif args.everyone == "discoverable":
        risks.append("everyone=discoverable lets anyone find it")
    if args.share_assets:
        risks.append("share_assets also shares what it is attached to")
    return ("Afterwards " + "; ".join(risks) + ".") if risks else "This narrows access."


async def plan_share(client: CodeOceanClient, args: ShareArgs, explain: ExplainFn) -> Plan:
    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        current = await client.get_permissions(item.data_asset_id)
        item.state["permissions"] = current.model_dump(mode="json")
        item.permissions, item.changes = _merge(current, args)
        if not item.changes:
            item.no_change = "it already has these permissions"

    items = await _plan(client, args.ids(), explain, describe)
    return Plan("share_data_asset", "change who can use", items, _share_warning(args))


async def plan_transfer(client: CodeOceanClient, args: TransferArgs, explain: ExplainFn) -> Plan:
    target = f"s3://{args.bucket}/{args.prefix or ''}"

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        source = item.asset.source_bucket
        item.state["source"] = source.model_dump(mode="json") if source else None
        item.state["last_transferred"] = item.asset.last_transferred
        item.state["transfer_error"] = item.asset.transfer_error
        if _still_draft(item, "transfer"):
            return
        where = f"s3://{source.bucket}/{source.prefix or ''}" if source and source.bucket else "Code Ocean storage"
        item.changes = [Change(what="files", before=where, after=target)]

    items = await _plan(client, args.ids(), explain, describe)
    sends: dict[str, str | bool] = {"bucket": args.bucket, "prefix": args.prefix or "", "force": args.force}
    if args.endpoint_name:
        sends["endpoint_name"] = args.endpoint_name
    return Plan(
        "transfer_data_asset",
        "transfer",
        items,
        "Transfer moves the files to another S3 location (admin only) and the asset becomes external. "
        + (
            "force=true: it goes ahead even if release pipelines use an asset."
            if args.force
            else "Without force, Code Ocean refuses an asset that release pipelines use."
        ),
        sends=sends,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else canonical(value)


def _update_changes(asset: DataAsset, args: UpdateArgs) -> tuple[DataAssetUpdateParams, list[Change], list[str]]:
    """The body to send, each change before -> after, and what of the asset the change would remove."""
    changes: list[Change] = []
    removes: list[str] = []
    body: dict[str, Any] = {}
    for field_name in ("name", "description", "mount"):
        wanted, current = getattr(args, field_name), getattr(asset, field_name) or ""
        if wanted is not None and wanted != current:
            body[field_name] = wanted
            changes.append(Change(what=field_name, before=current or "(none)", after=wanted or "(none)"))
            if field_name == "mount":
                removes.append("the mount name that capsules and pipelines use to find its files")
            elif field_name == "description" and current and not wanted:
                removes.append("its description")
    current_tags = list(asset.tags or [])
    tags = args.tags
    if args.add_tags or args.remove_tags:
        dropping = set(args.remove_tags or [])
        tags = [t for t in dict.fromkeys([*current_tags, *(args.add_tags or [])]) if t not in dropping]
    if tags is not None and tags != current_tags:
        body["tags"] = tags
        for tag in current_tags:
            if tag not in tags:
                changes.append(Change(what="tag", subject=tag, before="present", after="removed"))
                removes.append(f"tag {tag!r}")
        added = [t for t in tags if t not in current_tags]
        changes += [Change(what="tag", subject=t, before="absent", after="added") for t in added]
    if args.custom_metadata is not None:
        current_metadata = dict(asset.custom_metadata or {})
        if args.custom_metadata != current_metadata:
            body["custom_metadata"] = args.custom_metadata
        for key in sorted({*current_metadata, *args.custom_metadata}):
            before, after = current_metadata.get(key), args.custom_metadata.get(key)
            if before == after:
                continue
            shown_before = "(none)" if before is None else _text(before)
            shown_after = "(removed)" if after is None else _text(after)
            changes.append(Change(what="custom_metadata", subject=key, before=shown_before, after=shown_after))
            if before is not None:
                removes.append(f"custom metadata {key!r}")
    return DataAssetUpdateParams(**body), changes, removes


async def plan_update(client: CodeOceanClient, args: UpdateArgs, explain: ExplainFn) -> Plan:
    """An update acts at once, unless it would remove something: tags, metadata values, the mount, the description."""
    removes: list[str] = []

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        item.update, item.changes, lost = _update_changes(item.asset, args)
        removes.extend(lost)
        item.state["fields"] = {
            name: getattr(item.asset, name) for name in ("name", "description", "mount", "tags", "custom_metadata")
        }
        if not item.changes:
            item.no_change = "it already has these values"

    items = await _plan(client, args.ids(), explain, describe)
    return Plan(
        "update_data_asset",
        "update",
        items,
        "This removes " + "; ".join(removes) + ". Capsules, pipelines and searches that rely on it may break."
        if removes
        else "Nothing is removed.",
        needs_confirmation=bool(removes),
    )


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


def confirm_instruction(tool: str, expires_in: int) -> str:
    """What the model must do with a token: the human-in-the-loop rule, next to every token."""
    minutes = max(1, expires_in // 60)
    return (
        "Nothing has been done. Show this preview to the user and ask for an explicit yes. Only after it, call "
        f"{tool} again with the same arguments plus confirm_token (valid {minutes} min). If they say no, do not "
        "call it again."
    )


# The arguments of a tool that acts through the guard.
Confirmable = GuardedArgs | UpdateArgs


async def _act(client: CodeOceanClient, args: Confirmable, item: PlanItem) -> None:
    data_asset_id = item.data_asset_id
    if isinstance(args, DeleteArgs):
        await client.delete_data_asset(data_asset_id)
    elif isinstance(args, ArchiveArgs):
        await client.archive_data_asset(data_asset_id, archive=True)
    elif isinstance(args, ShareArgs):
        assert item.permissions is not None
        await client.update_permissions(data_asset_id, item.permissions)
    elif isinstance(args, UpdateArgs):
        assert item.update is not None
        await client.update_data_asset(data_asset_id, item.update)
    elif isinstance(args, TransferArgs):
        params = TransferDataParams(
            target=Target(aws=AWSS3Target(bucket=args.bucket, prefix=args.prefix, endpoint_name=args.endpoint_name)),
            force=args.force or None,
        )
        await client.transfer_data_asset(data_asset_id, params)
    else:  # pragma: no cover - every guarded argument model is handled above
        raise TypeError(type(args).__name__)


async def execute(
    client: CodeOceanClient, plan: Plan, args: Confirmable, audit: AuditLog, explain: ExplainFn
) -> list[GuardItem]:
    """Act on each actionable item in order, each one's attempt on the audit log before it is sent.

    If the audit log cannot take an attempt line, that item and every later one are not sent; when nothing
    was sent yet, the AuditLogError is raised, as for any write. If it cannot take an outcome line, the item's
    real outcome is still reported, saying the log could not record it: reporting a failure would invite a
    retry of something that happened.
    """
    outcomes: list[GuardItem] = []
    arguments = args.signed()
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
        deleted = asset_detail(item.asset).wire() if isinstance(args, DeleteArgs) and item.asset else None
        if blocked is None:
            try:
                # Before the act: if the process dies mid-call, the record of the attempt (and of a deleted
                # asset's metadata) survives; if the line cannot be written, nothing is sent.
                await audit.write(
                    plan.tool, outcome="attempt", data_asset_ids=[item.data_asset_id], arguments=arguments,
                    fingerprint=plan.fingerprint, deleted=deleted,
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
            await _act(client, args, item)
        except CodeOceanError as exc:
            status = exc.status_code if isinstance(exc, APIStatusError) else None
            message = exc.message if isinstance(exc, APIStatusError) else str(exc)
            # An ambiguous failure may have acted: "unknown", never "failed", or a retry could repeat it.
            outcome: Literal["failed", "unknown"] = "unknown" if outcome_unknown(exc) else "failed"
            unrecorded = await _record_outcome(
                audit, plan, item, arguments, outcome=outcome, status=status, message=message
            )
            detail = "it disappeared between preview and action" if isinstance(exc, NotFoundError) else explain(exc)
            detail += f"; {unrecorded}" if unrecorded else ""
            outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome=outcome, detail=detail))
            continue
        unrecorded = await _record_outcome(audit, plan, item, arguments, outcome="done", status=204, deleted=deleted)
        outcomes.append(GuardItem(id=item.data_asset_id, name=name, outcome="done", detail=unrecorded))
    return outcomes


async def _record_outcome(
    audit: AuditLog,
    plan: Plan,
    item: PlanItem,
    arguments: dict[str, Any],
    *,
    outcome: str,
    status: int | None,
    message: str | None = None,
    deleted: dict[str, Any] | None = None,
) -> str | None:
    """Write an item's outcome line: None if written, else words for the item saying it could not be."""
    try:
        await audit.write(
            plan.tool, outcome=outcome, data_asset_ids=[item.data_asset_id], arguments=arguments,
            status=status, message=message, fingerprint=plan.fingerprint, deleted=deleted,
        )  # fmt: skip
    except AuditLogError as exc:
        return exc.unrecorded()
    return None
