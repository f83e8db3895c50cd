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
    GroupPermission,
    Permissions,
    Target,
    TransferDataParams,
    UserPermission,
)
from co_mcp.audit import AuditLogError
from co_mcp.confirm import fingerprint
from co_mcp.errors import APIStatusError, CodeOceanError, NotFoundError, outcome_unknown
from co_mcp.text import human_size, quoted, snippet
from co_mcp.tools.common import Args, BatchArgs, ExplainFn
from co_mcp.tools.views import View, asset_detail

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from co_mcp.api.client import CodeOceanClient
    from co_mcp.api.models import DataAsset
    from co_mcp.audit import AuditLog

__all__ = [
    "ArchiveArgs",
    "DeleteArgs",
    "GuardHandles",
    "GuardResult",
    "GuardedArgs",
    "Plan",
    "ShareArgs",
    "TransferArgs",
    "execute",
    "plan_archive",
    "plan_delete",
    "plan_share",
    "plan_transfer",
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
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    role: Literal["owner", "editor", "viewer"]

    @field_validator("email")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()


class GroupShare(Args):
    group: Annotated[str, Field(min_length=1, max_length=200)]
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
    bucket: Annotated[str, Field(min_length=3, max_length=255, description="target S3 bucket")]
    prefix: Annotated[str | None, Field(max_length=1024)] = None
    endpoint_name: Annotated[str | None, Field(max_length=255)] = None
    force: Annotated[bool, Field(description="required when release pipelines use the asset")] = False


@dataclass
class PlanItem:
    """What would happen to one asset, and the state that judgement rests on."""

    data_asset_id: str
    asset: DataAsset | None = None
    error: str | None = None  # it cannot be acted on (not found, no access)
    no_change: str | None = None  # it is already in the requested state
    lines: list[str] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    permissions: Permissions | None = None  # share: the permissions to send

    @property
    def actionable(self) -> bool:
        return self.asset is not None and self.error is None and self.no_change is None

    def label(self) -> str:
        if self.asset is None:
            return self.data_asset_id
        # Names are other people's text: cleaned and quoted, as everywhere a model or a human reads them.
        return f"{quoted(snippet(self.asset.name, 200))} ({self.data_asset_id})"


@dataclass
class Plan:
    tool: str
    verb: str  # "archive", "permanently delete", ...
    items: list[PlanItem]
    warning: str

    @property
    def fingerprint(self) -> str:
        # The state read, not the words chosen to describe it (an error's type is in the state).
        return fingerprint({i.data_asset_id: [i.state, i.no_change] for i in self.items})

    @property
    def actionable(self) -> list[PlanItem]:
        return [i for i in self.items if i.actionable]

    def text(self) -> str:
        act = self.actionable
        lines = [f"Preview: {self.verb} {len(act)} data asset(s). {self.warning}" if act else "Nothing to do."]
        for n, item in enumerate(act, 1):
            lines.append(f"{n}. {item.label()}")
            lines += [f"   {line}" for line in item.lines]
        lines += [f"- {i.label()}: no change, {i.no_change}" for i in self.items if i.no_change]
        lines += [f"- {i.label()}: cannot {self.verb}: {i.error}" for i in self.items if i.error]
        return "\n".join(lines)


def _asset_line(asset: DataAsset) -> str:
    detail = asset_detail(asset)
    owner = detail.owner or detail.owner_id
    return f"{detail.type}, {detail.state}; {human_size(asset.size)}; owner {owner}; created {detail.created}"


def _ref(kind: str, asset: DataAsset) -> str:
    return f"{kind} {quoted(snippet(asset.name, 200))} ({asset.id})"


@dataclass(frozen=True)
class Derived:
    """Which result assets name which inputs in their provenance, from one bounded scan per plan."""

    by_input: dict[str, list[str]]
    scanned: int
    complete: bool

    def note(self) -> str:
        return "" if self.complete else f" (derived results: the {self.scanned} most recent were checked)"


async def _derived_results(client: CodeOceanClient) -> Derived:
    # Search has no field for provenance, so results are scanned (newest first, bounded) and indexed
    # by the inputs their provenance lists: one scan serves every asset in the plan.
    by_input: dict[str, list[str]] = {}
    scanned = 0
    params = DataAssetSearchParams(type=DataAssetType.RESULT, limit=1000)
    async for result in client.iter_data_assets(params, max_items=RESULT_SCAN):
        scanned += 1
        for input_id in (result.provenance.data_assets if result.provenance else None) or []:
            by_input.setdefault(input_id, []).append(_ref("result", result))
    return Derived(by_input, scanned, complete=scanned < RESULT_SCAN)


async def _dependents(client: CodeOceanClient, asset: DataAsset, derived: Derived) -> list[str]:
    """Combined assets that contain it, and result assets whose provenance lists it."""
    combined = await client.search_data_assets(
        DataAssetSearchParams(query=f"contained_data_id:{asset.id}", limit=MAX_DEPENDENTS)
    )
    found = [_ref("combined", a) for a in combined.results if a.id != asset.id]
    if combined.has_more:
        found.append(f"more combined assets beyond these {MAX_DEPENDENTS}")
    return found + derived.by_input.get(asset.id, [])


def _uses(dependents: list[str], derived: Derived) -> str:
    if dependents:
        return "used by: " + "; ".join(dependents) + derived.note()
    return "nothing found that uses it" + derived.note()


async def _is_archived(client: CodeOceanClient, asset: DataAsset) -> bool:
    """The API has no archived flag on assets; an archived-only search by name tells."""
    name = asset.name.replace('"', " ")
    page = await client.search_data_assets(DataAssetSearchParams(query=f'name:"{name}"', archived=True, limit=100))
    return any(a.id == asset.id for a in page.results)


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
        dependents = await _dependents(client, item.asset, derived)
        item.state.update(archived=archived, dependents=dependents)
        if archived:
            item.no_change = "already archived"
            return
        item.lines = [_asset_line(item.asset), _uses(dependents, derived)]

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
        assert item.asset is not None
        dependents = await _dependents(client, item.asset, derived)
        item.state["dependents"] = dependents
        files = f", {item.asset.files} files" if item.asset.files is not None else ""
        item.lines = [_asset_line(item.asset) + files]
        if item.asset.is_external:
            item.lines.append("external: the files in the bucket stay; the Code Ocean record goes")
        item.lines.append(_uses(dependents, derived))

    items = await _plan(client, args.ids(), explain, describe)
    return Plan(
        "delete_data_asset",
        "permanently delete",
        items,
        "Deletion cannot be undone: the files, metadata and provenance are lost, and whatever uses them breaks.",
    )


def _merge(current: Permissions, args: ShareArgs) -> tuple[Permissions, list[str]]:
    """The permissions to send (upserts) and a before -> after line per change."""
    changes: list[str] = []
    users = {u.email.lower(): str(u.role) for u in current.users or []}
    send_users: list[UserPermission] = []
    for user in args.users or []:
        before = users.get(user.email)
        if before != user.role:
            changes.append(f"user {user.email}: {before or 'no access'} -> {user.role}")
            send_users.append(UserPermission(email=user.email, role=user.role))
    groups = {g.group: str(g.role) for g in current.groups or []}
    send_groups: list[GroupPermission] = []
    for group in args.groups or []:
        before = groups.get(group.group)
        if before != group.role:
            changes.append(f'group "{group.group}": {before or "no access"} -> {group.role}')
            send_groups.append(GroupPermission(group=group.group, role=group.role))
    everyone = None
    current_everyone = str(current.everyone or "none")
    if args.everyone is not None and args.everyone != current_everyone:
        changes.append(f"everyone: {current_everyone} -> {args.everyone}")
        everyone = args.everyone
    share_assets = None
    if args.share_assets is not None and args.share_assets != bool(current.share_assets):
        changes.append(f"share_assets: {str(bool(current.share_assets)).lower()} -> {str(args.share_assets).lower()}")
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
        item.permissions, changes = _merge(current, args)
        if not changes:
            item.no_change = "it already has these permissions"
            return
        item.lines = [_asset_line(item.asset), *changes]

    items = await _plan(client, args.ids(), explain, describe)
    return Plan(
        "share_data_asset",
        "change who can use",
        items,
        _share_warning(args),
    )


async def plan_transfer(client: CodeOceanClient, args: TransferArgs, explain: ExplainFn) -> Plan:
    target = f"s3://{args.bucket}/{args.prefix or ''}" + (
        f" (endpoint {args.endpoint_name})" if args.endpoint_name else ""
    )

    async def describe(item: PlanItem) -> None:
        assert item.asset is not None
        source = item.asset.source_bucket
        item.state["source"] = source.model_dump(mode="json") if source else None
        item.state["last_transferred"] = item.asset.last_transferred
        item.state["transfer_error"] = item.asset.transfer_error
        # The source location was written by whoever made the asset: cleaned and quoted, like a name.
        where = (
            quoted(snippet(f"s3://{source.bucket}/{source.prefix or ''}", 300))
            if source and source.bucket
            else "Code Ocean storage"
        )
        item.lines = [_asset_line(item.asset), f"files move: {where} -> {target}; the asset becomes external"]

    items = await _plan(client, args.ids(), explain, describe)
    return Plan(
        "transfer_data_asset",
        "transfer",
        items,
        "Transfer moves the files to another S3 location (admin only); force is needed if release pipelines "
        "use an asset.",
    )


class GuardItem(View):
    id: str
    name: str | None = None
    outcome: Literal["done", "failed", "unknown", "no_change", "skipped"]
    detail: str | None = None


class ItemOutcome(View):
    id: str
    outcome: Literal["done", "failed", "unknown", "no_change", "skipped"]


class GuardHandles(View):
    """For a program: whether it happened, the token to confirm with, and each item's outcome."""

    performed: bool
    confirm_token: str | None = None
    expires_in: int | None = None
    refused: str | None = None
    items: list[ItemOutcome] = []


class GuardResult(View):
    """A guarded call's outcome: a preview (nothing done, maybe a token) or per-item results."""

    tool: str
    performed: bool
    preview: str
    confirm_token: str | None = None
    expires_in: int | None = None
    refused: str | None = None
    items: list[GuardItem] = []

    def machine(self) -> GuardHandles:
        return GuardHandles(
            performed=self.performed,
            confirm_token=self.confirm_token,
            expires_in=self.expires_in,
            refused=self.refused,
            items=[ItemOutcome(id=i.id, outcome=i.outcome) for i in self.items],
        )


async def _act(client: CodeOceanClient, args: GuardedArgs, item: PlanItem) -> None:
    data_asset_id = item.data_asset_id
    if isinstance(args, DeleteArgs):
        await client.delete_data_asset(data_asset_id)
    elif isinstance(args, ArchiveArgs):
        await client.archive_data_asset(data_asset_id, archive=True)
    elif isinstance(args, ShareArgs):
        assert item.permissions is not None
        await client.update_permissions(data_asset_id, item.permissions)
    elif isinstance(args, TransferArgs):
        params = TransferDataParams(
            target=Target(aws=AWSS3Target(bucket=args.bucket, prefix=args.prefix, endpoint_name=args.endpoint_name)),
            force=args.force or None,
        )
        await client.transfer_data_asset(data_asset_id, params)
    else:  # pragma: no cover - every guarded argument model is handled above
        raise TypeError(type(args).__name__)


async def execute(
    client: CodeOceanClient, plan: Plan, args: GuardedArgs, audit: AuditLog, explain: ExplainFn
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
