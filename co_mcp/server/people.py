"""Team mode, per person: each request acts for the person its access token names, with their own Code Ocean
token, under their own concurrency cap; and the page where a person links that token.

``per_person`` (SDK middleware around the requests that reach Code Ocean) finds the person, their client and
their cap, and sets ``CALLER`` for the request, which is where ``AppState.client`` and ``AppState.audit``
look. A person with no usable token gets a URL elicitation (2025-11-25, error -32042) that sends them to the
link page (``server/linkpage.py``), or, when their client cannot open one, an error that names the page.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp.types import INTERNAL_ERROR, INVALID_REQUEST, ElicitRequestURLParams

from co_mcp.errors import AuthenticationError, CoMcpError, explain
from co_mcp.server.state import CALLER, Caller
from co_mcp.store import StoreError
from co_mcp.team import NotLinked, Person, Team
from co_mcp.text import clean

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

    from co_mcp.api.client import CodeOceanClient

__all__ = ["not_linked_error", "per_person", "relink_error", "tool_error"]

log = logging.getLogger(__name__)

# The requests that reach Code Ocean, so must act for a person.
PERSONAL = frozenset({"tools/call", "resources/read", "completion/complete"})


def current_person() -> Person | None:
    """The person the request's (validated) access token names."""
    access = get_access_token()
    issuer = (access.claims or {}).get("iss") if access is not None else None
    if access is None or not access.subject or not isinstance(issuer, str):
        return None
    return Person(issuer, access.subject)


def can_open_urls(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether to answer with a URL elicitation: the client said it opens them, or said nothing.

    A stateless 2025-11-25 request carries no capabilities (they came with an initialize this worker never
    saw). The URL elicitation error names the page in its message too, so a client that cannot open it still
    shows where to go; only a client known to lack URL elicitation gets a plain tool error instead.
    """
    capabilities = ctx.session.client_capabilities
    if capabilities is None:
        return True
    elicitation = capabilities.elicitation
    return elicitation is not None and elicitation.url is not None


def not_linked_error(exc: NotLinked, *, url_elicitation: bool, tool_call: bool) -> Exception:
    """A URL elicitation to the link page if the client can open one; else an error naming the page."""
    if url_elicitation:
        ask = ElicitRequestURLParams(
            message=f"Link your Code Ocean access token to {clean(exc.person.subject, 100)} on co-mcp's own page: "
            "paste it there, never into the chat.",
            url=exc.url,
            elicitation_id=secrets.token_urlsafe(16),
        )
        return UrlElicitationRequiredError([ask], message=str(exc))
    return ToolError(str(exc)) if tool_call else MCPError(INVALID_REQUEST, str(exc))


def relink_error(exc: CoMcpError) -> Exception | None:
    """Team mode: Code Ocean refused the person's linked token (401); they must link it again."""
    caller = CALLER.get()
    if caller is None or not isinstance(exc, AuthenticationError):
        return None
    log.info("Code Ocean refused the linked token of %s", caller.person.subject)
    return not_linked_error(caller.team.refused(caller.person), url_elicitation=caller.url_elicitation, tool_call=True)


def tool_error(exc: CoMcpError) -> Exception:
    """What a tool raises for one of co_mcp's errors: the sentence for the model, or in team mode, for a token
    Code Ocean refused or never linked, the way to link it."""
    if isinstance(exc, NotLinked):
        return ToolError(str(exc))
    return relink_error(exc) or ToolError(explain(exc))


def per_person(team: Team) -> ServerMiddleware[Any]:
    """Each request that reaches Code Ocean acts for its person, with their client, under their cap."""

    async def personal(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in PERSONAL:
            return await call_next(ctx)
        person = current_person()
        if person is None:
            # The transport lets no request through without a valid token; this is a server fault.
            raise MCPError(INTERNAL_ERROR, "team mode: this request carries no identity, so it cannot act")
        tool_call = ctx.method == "tools/call"
        url_elicitation = can_open_urls(ctx)
        try:
            client: CodeOceanClient | NotLinked = await team.client_for(person)
        except NotLinked as exc:
            if url_elicitation or not tool_call:
                raise not_linked_error(exc, url_elicitation=url_elicitation, tool_call=False) from None
            # The tool runs and meets it at its first use of the client, after its arguments are checked: an
            # error result naming the page, through the same path as every other tool error.
            client = exc
        except StoreError:
            message = "co-mcp cannot read the linked Code Ocean tokens right now; nothing was done. Try again shortly."
            raise MCPError(INTERNAL_ERROR, message) from None
        async with team.limiter(person):
            reset = CALLER.set(Caller(person, client, team, url_elicitation))
            try:
                return await call_next(ctx)
            finally:
                CALLER.reset(reset)

    return personal
