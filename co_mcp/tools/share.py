"""share_data_asset: give users or groups a role on up to 50 data assets, or set everyone's access, after the
user confirmed the before -> after of each change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator, model_validator

from co_mcp.api.models import GroupPermission, Permissions, UserPermission
from co_mcp.tools.common import Args, PlainText
from co_mcp.tools.definition import Deps, ToolDefinition
from co_mcp.tools.guard import Change, GuardedArgs, GuardResult, Plan, PlanItem, plan_items

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient

__all__ = ["TOOL", "GroupShare", "ShareArgs", "UserShare", "plan_share"]


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


def merge(current: Permissions, args: ShareArgs) -> tuple[Permissions, list[Change]]:
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


def warning(args: ShareArgs) -> str:
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


async def plan_share(deps: Deps, args: ShareArgs) -> Plan:
    # What to send for each asset: only its differences, judged against the permissions just read.
    sends: dict[str, Permissions] = {}

    async def describe(item: PlanItem) -> None:
        current = await deps.client.get_permissions(item.data_asset_id)
        item.state["permissions"] = current.model_dump(mode="json")
        sends[item.data_asset_id], item.changes = merge(current, args)
        if not item.changes:
            item.no_change = "it already has these permissions"

    async def act(client: CodeOceanClient, item: PlanItem) -> None:
        await client.update_permissions(item.data_asset_id, sends[item.data_asset_id])

    items = await plan_items(deps.client, args.ids(), describe)
    return Plan("share_data_asset", "change who can use", items, warning(args), act=act, arguments=args.signed())


TOOL = ToolDefinition(
    name="share_data_asset",
    title="Share data assets",
    description=(
        "Give users (by email) or groups a role on up to 50 data assets, or set everyone's access; it cannot "
        "remove access. The preview shows before -> after. Needs the user's yes: the first call may only preview "
        "and return a confirm_token."
    ),
    args=ShareArgs,
    result=GuardResult,
    effect="guarded",
    plan=plan_share,
)
