"""Team mode, per person: each request acts for the person its access token names, with their own Code Ocean
token, under their own concurrency cap; and the page where a person links that token.

``per_person`` (SDK middleware around the requests that reach Code Ocean) finds the person, their client and
their cap, and sets ``CALLER`` for the request, which is where ``AppState.client`` and ``AppState.audit``
look. A person with no usable token gets a URL elicitation (2025-11-25, error -32042) that sends them to the
link page, or, when their client cannot open one, an error that names the page.
"""

from __future__ import annotations

import html
import logging
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
from mcp.types import INTERNAL_ERROR, INVALID_REQUEST, ElicitRequestURLParams
from pydantic import SecretStr
from starlette.responses import HTMLResponse
from starlette.routing import Route

from co_mcp.errors import AuthenticationError, CoMcpError, explain
from co_mcp.server.state import CALLER, Caller
from co_mcp.store import StoreError
from co_mcp.team import LINK_PATH, LinkRefused, NotLinked, Person, Team
from co_mcp.text import clean

if TYPE_CHECKING:
    from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
    from starlette.requests import Request

    from co_mcp.api.client import CodeOceanClient

__all__ = ["link_routes", "not_linked_error", "per_person", "relink_error", "tool_error"]

log = logging.getLogger(__name__)

# The requests that reach Code Ocean, so must act for a person.
PERSONAL = frozenset({"tools/call", "resources/read", "completion/complete"})
MAX_FORM = 16_384


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


# --- the link page ------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>co-mcp: link your Code Ocean token</title>
<style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}
input[type=password]{{width:100%;padding:.4em}}.no{{color:#a00}}.ok{{color:#070}}</style></head>
<body><h1>Link your Code Ocean token</h1>{body}</body></html>"""

FORM = """<p>Linking for <b>{who}</b> (signed in at {issuer}).</p>
<p>Create an access token on your Code Ocean account page (the Datasets scope; read &amp; write to let your
assistant change data assets) and paste it here. co-mcp checks it with Code Ocean, keeps it encrypted, and uses
it only for your own requests. Never paste it into a chat.</p>{problem}
<form method="post" action="{action}"><input type="hidden" name="ticket" value="{ticket}">
<p><input type="password" name="token" autocomplete="off" required aria-label="Code Ocean access token"></p>
<p><button type="submit">Check and link</button></p></form>"""

# The page holds a ticket and takes a token: never cached, framed, or told to another site.
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status, headers=HEADERS)


def _form(person: Person, ticket: str, problem: str | None = None) -> str:
    said = f'<p class="no">{html.escape(problem)}</p>' if problem else ""
    return FORM.format(
        who=html.escape(clean(person.subject, 200)),
        issuer=html.escape(clean(person.issuer, 200)),
        problem=said,
        action=LINK_PATH,
        ticket=html.escape(ticket, quote=True),
    )


def link_routes(team: Team) -> list[Route]:
    """GET shows the form for the ticket's person; POST checks the token with Code Ocean and links it."""

    async def show(request: Request) -> HTMLResponse:
        ticket = request.query_params.get("ticket", "")
        try:
            person = team.holder(ticket)
        except LinkRefused as exc:
            return _page(f'<p class="no">{html.escape(str(exc))}</p>', 400)
        return _page(_form(person, ticket))

    async def link(request: Request) -> HTMLResponse:
        body = await request.body()
        if len(body) > MAX_FORM:
            return _page('<p class="no">That form is too large.</p>', 413)
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=4)
        ticket = (fields.get("ticket") or [""])[0]
        token = SecretStr((fields.get("token") or [""])[0].strip())
        try:
            person = await team.redeem(ticket, token)
        except LinkRefused as exc:
            try:
                holder = team.holder(ticket)
            except LinkRefused:
                return _page(f'<p class="no">{html.escape(str(exc))}</p>', 400)
            return _page(_form(holder, ticket, str(exc)), 400)
        except StoreError:
            return _page('<p class="no">co-mcp cannot store the token right now; try again shortly.</p>', 503)
        who = html.escape(clean(person.subject, 200))
        return _page(
            f'<p class="ok">Linked: your requests as <b>{who}</b> now use this Code Ocean token. You can '
            "close this page and return to your assistant.</p>"
        )

    return [Route(LINK_PATH, show, methods=["GET"]), Route(LINK_PATH, link, methods=["POST"])]
