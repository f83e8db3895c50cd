"""The guard's conversation with the client: a destructive tool acts only on a confirmation of exactly the
previewed action, asked through the client (elicitation) when it can answer, else by preview and confirm_token;
and each confirmation acts at most once.
"""

from __future__ import annotations

import hashlib
import inspect
from collections import Counter
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any, cast

from mcp.server.mcpserver import (
    AcceptedElicitation,
    CancelledElicitation,
    Context,
    DeclinedElicitation,
    Elicit,
    ElicitationResult,
    RequestStateSecurity,
    Resolve,
)
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.request_state import AESGCMRequestStateCodec
from pydantic import BaseModel, Field

from co_mcp.confirm import Refusal
from co_mcp.errors import CoMcpError
from co_mcp.server.catalog import deps_for
from co_mcp.server.people import tool_error
from co_mcp.server.tools import arguments_as_sent, make_sdk_tool, result_or_error
from co_mcp.store import ConfirmationStore, StoreError, Used, confirmation_key
from co_mcp.tools import guard

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from mcp.server.mcpserver.tools import Tool
    from mcp.types import CallToolResult

    from co_mcp.server.state import AppContext, AppState
    from co_mcp.tools.definition import ToolDefinition

__all__ = [
    "ASK_NOTHING",
    "REQUEST_STATE_TTL",
    "UNREADABLE_ANSWER",
    "Confirm",
    "build_guarded_tool",
    "request_state_security",
]


class Confirm(BaseModel):
    """What the user is asked through the client. Only the JSON ``true`` is a yes: strict, because lax
    pydantic also reads "yes", "on", "1" and 1 as true, and a client that sent those did not send a yes."""

    confirm: bool = Field(strict=True, description="Yes, do exactly what the preview describes")


class AskNothing:
    """The question resolver's answer when it must not ask: the tool falls back to preview-and-token."""


ASK_NOTHING = AskNothing()

# What the model reads when the client's answer to the question did not fit it ("yes" for true, no content).
UNREADABLE_ANSWER = (
    "The answer to the confirmation question could not be read as a yes or a no (confirm must be "
    "true or false); nothing was done. Calling again asks the user again."
)


def client_can_answer(ctx: Context[Any, Any]) -> bool:
    """Whether the client can answer a yes/no form (elicitation)."""
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    # A bare `elicitation: {}` means form support; url-only clients cannot answer a yes/no form.
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def build_guarded_tool(spec: ToolDefinition) -> Tool:
    """A destructive tool: nothing reaches Code Ocean unless exactly the previewed action was confirmed."""
    assert spec.plan is not None
    planner = spec.plan

    async def planned(ctx: Context[Any, Any]) -> guard.Plan:
        # One plan per call (the SDK memoises resolvers): the question shows it and the body acts on it,
        # so what the user approves and what is done are the same object, not two reads apart.
        state: AppState = ctx.request_context.lifespan_context
        try:
            return await planner(deps_for(state), arguments_as_sent(ctx, spec))
        except CoMcpError as exc:
            raise tool_error(exc) from None

    async def ask(ctx: Context[Any, Any], plan: guard.Plan) -> Any:
        # Asks the human whenever the client can answer; an elicited yes is stronger than a token,
        # which only proves the model called twice.
        state: AppState = ctx.request_context.lifespan_context
        if state.options.confirm == "token" or not client_can_answer(ctx) or not plan.actionable:
            return ASK_NOTHING
        if not plan.needs_confirmation:
            return ASK_NOTHING  # nothing would be lost: there is nothing to ask
        # The fingerprint is in the question, so a changed state asks again rather than reusing a yes.
        return Elicit(f"{plan.preview().as_text()}\n\nProceed? (preview {plan.fingerprint[:12]})", Confirm)

    ask.__annotations__ = {"ctx": Context, "plan": Annotated[guard.Plan, Resolve(planned)], "return": Any}

    async def call(
        ctx: AppContext,
        plan: guard.Plan,
        confirmation: ElicitationResult[Confirm] | AcceptedElicitation[Any],
    ) -> CallToolResult:
        state: AppState = ctx.request_context.lifespan_context
        # Every guarded tool's arguments carry confirm_token, ids() and signed() (guard.Confirmable).
        args = cast("guard.Confirmable", arguments_as_sent(ctx, spec))

        async def read_again() -> guard.Plan:
            return await planner(deps_for(state), args)

        work = confirm_then_act(spec.name, plan, state, args, confirmation, read_again=read_again)
        return await result_or_error(spec.name, work)

    keyword = inspect.Parameter.KEYWORD_ONLY
    return make_sdk_tool(
        spec,
        call,
        [
            inspect.Parameter("plan", keyword, annotation=Annotated[guard.Plan, Resolve(planned)]),
            inspect.Parameter("confirmation", keyword, annotation=Annotated[ElicitationResult[Confirm], Resolve(ask)]),
        ],
    )


async def confirm_then_act(
    tool: str,
    plan: guard.Plan,
    state: AppState,
    args: guard.Confirmable,
    confirmation: ElicitationResult[Confirm] | AcceptedElicitation[Any],
    *,
    read_again: Callable[[], Awaitable[guard.Plan]],
) -> guard.GuardResult:
    """Act if the user's answer, or the confirm_token, confirms this plan; otherwise preview, or refuse.

    ``read_again`` plans anew from the current state: a user may take minutes to answer a question, and what
    they approved must still be what is there when the action is sent.
    """
    options = state.options
    preview = plan.preview()
    sealed = PRESENTED_REQUEST_STATE.get()
    if isinstance(confirmation, DeclinedElicitation | CancelledElicitation):
        verb = "declined" if isinstance(confirmation, DeclinedElicitation) else "cancelled"
        return guard.GuardResult(
            tool=tool, performed=False, refused=f"The user {verb}; nothing was done.", preview=preview
        )
    answer = confirmation.data if isinstance(confirmation, AcceptedElicitation) else None
    if isinstance(answer, Confirm):
        if not answer.confirm:
            return guard.GuardResult(
                tool=tool, performed=False, refused="The user did not confirm; nothing was done.", preview=preview
            )
        # The question was open while the user read it: act only if the state is still the one they approved
        # (a tag added or a role raised meanwhile would otherwise be overwritten by the previewed body).
        current = await read_again()
        if current.fingerprint != plan.fingerprint:
            return guard.GuardResult(
                tool=tool,
                performed=False,
                refused="The data asset changed while the question was open; nothing was done. Call again to be "
                "asked about the new state.",
                preview=current.preview(),
            )
        # A 2025-11-25 answer came over the back-channel within this call and cannot be sent again; a
        # 2026-07-28 one rides sealed request state that a client can resend, so that state is claimed.
        key = confirmation_key("request_state", sealed) if sealed is not None else None
        return await act_once(tool, current, state, args, key, keep_for=REQUEST_STATE_TTL)
    if sealed is not None:
        # Request state came back but no question was asked: the state changed since the question was
        # answered, perhaps because that answer already acted. If it did, say so rather than "nothing to do".
        used = await used_or_unknown(options.store, confirmation_key("request_state", sealed))
        if used is not None:
            return guard.GuardResult(tool=tool, performed=False, refused=used.sentence())
    # No question was asked: nothing to do, or the preview-and-token path. The token is bound to the
    # deployment and credentials too, so one minted against another Code Ocean or user does not confirm.
    if plan.actionable and not plan.needs_confirmation:
        # A change that removes nothing (adding tags, renaming) is not destructive: it acts at once, audited.
        items = await guard.execute(state.client, plan, state.audit)
        return guard.GuardResult(tool=tool, performed=True, items=items, preview=preview)
    # In team mode the person too: alice's token cannot confirm what bob was shown, even with one Code Ocean token.
    person = state.person
    signed = {**args.signed(), "identity": state.client.identity}
    if person is not None:
        signed["person"] = [person.issuer, person.subject]
    if not plan.actionable and args.confirm_token is None:
        return guard.GuardResult(tool=tool, performed=False, preview=preview)
    if options.confirm == "elicit":
        raise ToolError(
            f"{tool} needs the user's confirmation through the MCP client (elicitation), and this client cannot "
            "ask; this server is set to require it (CO_MCP_CONFIRM=elicit). Nothing was done."
        )
    # A token never travels without its preview and the instruction to ask the user (each channel carries all three).
    fresh = options.signer.issue(tool, signed, plan.fingerprint) if plan.actionable else None
    offer: dict[str, Any] = (
        {
            "confirm_token": fresh,
            "expires_in": options.signer.ttl,
            "next_step": guard.confirm_instruction(tool, options.signer.ttl),
        }
        if fresh
        else {}
    )
    if args.confirm_token is not None:
        refusal = options.signer.check(args.confirm_token, tool, signed, current=plan.fingerprint)
        if refusal not in (Refusal.MALFORMED, Refusal.MISMATCH):
            # An authentic token acts at most once: claimed before acting; once used, it says what it did.
            key = confirmation_key("confirm_token", args.confirm_token)
            if refusal is None and plan.actionable:
                return await act_once(tool, plan, state, args, key, keep_for=options.signer.ttl, offer=offer)
            used = await used_or_unknown(options.store, key)
            if used is not None:
                return already_used_answer(tool, plan, used, offer)
        if refusal is not None:
            again = " This is a fresh preview with a new token." if fresh else ""
            refused = f"{refusal.value}; nothing was done.{again}"
            return guard.GuardResult(tool=tool, performed=False, refused=refused, preview=preview, **offer)
    return guard.GuardResult(tool=tool, performed=False, preview=preview, **offer)


async def act_once(
    tool: str,
    plan: guard.Plan,
    state: AppState,
    args: guard.Confirmable,
    key: str | None,
    *,
    keep_for: float,
    offer: dict[str, Any] | None = None,
) -> guard.GuardResult:
    """Act on a confirmed plan unless its confirmation already acted.

    The claim comes before the action: of any number of concurrent or repeated uses of one confirmation,
    in any process sharing the store, exactly one acts. What it did is recorded for the others to report.
    """
    store = state.options.store
    if key is not None:
        try:
            used = await store.claim(key, keep_for=keep_for)
        except StoreError:
            return guard.GuardResult(
                tool=tool,
                performed=False,
                refused="The record of used confirmations cannot be reached, so this confirmation cannot be marked "
                "used; nothing was done. Try again shortly; the server's log says what failed.",
            )
        if used is not None:
            return already_used_answer(tool, plan, used, offer or {})
    items = await guard.execute(state.client, plan, state.audit)
    if key is not None:
        counts = Counter(item.outcome.replace("_", " ") for item in items)
        done = ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
        await store.record(key, f"{tool} on {len(items)} data asset(s): {done}")
    return guard.GuardResult(tool=tool, performed=True, items=items)


def already_used_answer(tool: str, plan: guard.Plan, used: Used, offer: dict[str, Any]) -> guard.GuardResult:
    """A used confirmation's one answer: what it did, and (only if there is still something to do) a new token,
    which travels with its preview and next step like every token."""
    if not offer:
        return guard.GuardResult(tool=tool, performed=False, refused=used.sentence())
    return guard.GuardResult(
        tool=tool,
        performed=False,
        refused=f"{used.sentence()} This is a fresh preview with a new token.",
        preview=plan.preview(),
        **offer,
    )


async def used_or_unknown(store: ConfirmationStore, key: str) -> Used | None:
    """Whether a confirmation that cannot act anyway was used; unknown (None) if the store cannot say."""
    try:
        return await store.lookup(key)
    except StoreError:
        return None


# --- 2026-07-28: the answer rides sealed request state ------------------------------------------------------

# The sealed request state the current request presented, set when the SDK unseals it.
PRESENTED_REQUEST_STATE: ContextVar[str | None] = ContextVar("co_mcp_presented_request_state", default=None)
# How long sealed request state stays valid, so how long its use is remembered. The SDK's default.
REQUEST_STATE_TTL = 600.0


class RecordingRequestStateCodec:
    """The SDK's AES-GCM request-state codec (its public ``RequestStateCodec``), noting the sealed state each
    request presents.

    The tool sees only the unsealed state, which is the same for every asking of one question; the sealed
    form differs each time (a random nonce), so it names one asked-and-answered question. A confirmation
    claims its digest: one answer, however often the client sends it, acts at most once. The SDK unseals
    in the request's own task before the tool runs, so the context variable belongs to that request.
    """

    def __init__(self, keys: list[bytes]) -> None:
        self._codec = AESGCMRequestStateCodec(keys)

    def seal(self, payload: bytes) -> str:
        return self._codec.seal(payload)

    def unseal(self, token: str) -> bytes:
        payload = self._codec.unseal(token)
        PRESENTED_REQUEST_STATE.set(token)
        return payload


def request_state_security(secret: bytes) -> RequestStateSecurity:
    """How questions asked on 2026-07-28 are sealed. Replicas that share CO_MCP_CONFIRM_SECRET must be able to
    open each other's, so the key is derived from it."""
    key = hashlib.sha256(b"co-mcp request state\0" + secret).digest()
    return RequestStateSecurity(codec=RecordingRequestStateCodec([key]), ttl=REQUEST_STATE_TTL)
