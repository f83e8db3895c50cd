"""Team mode's link page, beside /mcp: where a person links their Code Ocean token, never through the model.

1. ``GET /link?ticket=...`` (the URL a person's MCP client was given): the ticket must be one co-mcp sealed and
   not expired. The browser gets a random cookie and is sent to sign in at the team's identity provider.
2. ``GET /link/callback``: the provider's answer. The ID token's issuer and subject must be the ticket's: a
   link forwarded to (or seen by) someone else is refused. The form is shown, holding a sealed proof of this
   sign-in, bound to this browser's cookie.
3. ``POST /link``: the proof, and the pasted token; co-mcp checks the token with Code Ocean, then stores it
   (``Team.redeem``; each ticket links once).

Every page is uncached, unframed and sends no referrer; every value shown is escaped. Forms are read only up to
``MAX_FORM`` bytes.
"""

from __future__ import annotations

import html
import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from pydantic import SecretStr
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from co_mcp.signin import CALLBACK_PATH, SIGN_IN_TTL, SignIn, SignInRefused
from co_mcp.store import StoreError
from co_mcp.team import LINK_PATH, LinkRefused, Person, Team
from co_mcp.text import clean

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["MAX_FORM", "link_routes"]

log = logging.getLogger(__name__)

MAX_FORM = 16_384
COOKIE = "co_mcp_link"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>co-mcp: link your Code Ocean token</title>
<style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}
input[type=password]{{width:100%;padding:.4em}}.no{{color:#a00}}.ok{{color:#070}}</style></head>
<body><h1>Link your Code Ocean token</h1>{body}</body></html>"""

FORM = """<p>Signed in as <b>{who}</b> at {issuer}.</p>
<p>Create an access token on your Code Ocean account page (the Datasets scope; read &amp; write to let your
assistant change data assets) and paste it here. co-mcp checks it with Code Ocean, keeps it encrypted, and uses
it only for your own requests. Never paste it into a chat.</p>{problem}
<form method="post" action="{action}"><input type="hidden" name="proof" value="{proof}">
<p><input type="password" name="token" autocomplete="off" required aria-label="Code Ocean access token"></p>
<p><button type="submit">Check and link</button></p></form>"""

# The pages carry tickets and take tokens: never cached, framed, or told to another site.
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


def _refusal(message: str, status: int = 400) -> HTMLResponse:
    return _page(f'<p class="no">{html.escape(message)}</p>', status)


def _form(person: Person, proof: str, problem: str | None = None) -> str:
    said = f'<p class="no">{html.escape(problem)}</p>' if problem else ""
    return FORM.format(
        who=html.escape(clean(person.subject, 200)),
        issuer=html.escape(clean(person.issuer, 200)),
        problem=said,
        action=LINK_PATH,
        proof=html.escape(proof, quote=True),
    )


class _TooLarge(Exception):
    pass


async def _capped_form(request: Request) -> dict[str, list[str]] | None:
    """The urlencoded form; None if malformed (too many fields, not UTF-8); _TooLarge past MAX_FORM bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM):
        raise _TooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise _TooLarge
    try:
        return parse_qs(body.decode("utf-8", "strict"), max_num_fields=4, strict_parsing=False)
    except ValueError:  # too many fields, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return None


def link_routes(team: Team) -> list[Route]:
    """The three steps of linking: open the link, come back signed in, send the token."""
    sign_in: SignIn = team.sign_in
    secure = urlsplit(team.public_url).scheme == "https"
    # Over https a __Host- cookie: no other host of the site (a sibling subdomain, a plain-http name) can plant one.
    cookie, cookie_path = ("__Host-" + COOKIE, "/") if secure else (COOKIE, LINK_PATH)

    async def open_link(request: Request) -> Response:
        ticket = request.query_params.get("ticket", "")
        try:
            team.holder(ticket)
            await team.unused(ticket)
            browser = SignIn.new_browser()
            target = await sign_in.start(ticket, browser)
        except LinkRefused as exc:
            return _refusal(str(exc))
        except (SignInRefused, LookupError) as exc:
            log.error("the link page cannot start a sign-in: %s", exc)
            return _refusal("co-mcp cannot reach the identity provider right now; try the link again shortly.", 503)
        response = RedirectResponse(target, status_code=303, headers=HEADERS)
        response.set_cookie(
            cookie, browser, max_age=SIGN_IN_TTL, path=cookie_path, secure=secure, httponly=True, samesite="lax"
        )
        return response

    async def signed_in(request: Request) -> HTMLResponse:
        query = request.query_params
        if "error" in query or "code" not in query:
            return _refusal("The sign-in was cancelled or refused by the identity provider: open your link again.")
        browser = request.cookies.get(cookie, "")
        try:
            ticket, issuer, subject = await sign_in.finish(
                code=query["code"], state=query.get("state", ""), browser=browser, issuer=query.get("iss")
            )
            person = team.holder(ticket)
            await team.unused(ticket)
        except (SignInRefused, LinkRefused) as exc:
            return _refusal(str(exc))
        except LookupError as exc:
            log.error("the link page cannot finish a sign-in: %s", exc)
            return _refusal("co-mcp cannot reach the identity provider right now; try the link again shortly.", 503)
        if (issuer, subject) != (person.issuer, person.subject):
            log.warning(
                "link page: %r signed in to use a link made for %r; refused", clean(subject, 100), person.subject
            )
            return _refusal(
                "This link was made for someone else: only the person whose assistant showed it can use it. Ask "
                "your own assistant for your link.",
                403,
            )
        return _page(_form(person, sign_in.vouch(ticket, browser)))

    async def link(request: Request) -> HTMLResponse:
        try:
            fields = await _capped_form(request)
        except _TooLarge:
            return _refusal("That form is too large.", 413)
        if fields is None:
            return _refusal("That form is malformed.")
        proof = (fields.get("proof") or [""])[0]
        token = SecretStr((fields.get("token") or [""])[0].strip())
        browser = request.cookies.get(cookie, "")
        try:
            ticket = sign_in.vouched(proof, browser)
            person = team.holder(ticket)
        except (SignInRefused, LinkRefused) as exc:
            return _refusal(str(exc))
        try:
            await team.redeem(ticket, token)
        except LinkRefused as exc:
            return _page(_form(person, proof, str(exc)), 400)
        except StoreError:
            return _refusal("co-mcp cannot store the token right now; try again shortly.", 503)
        who = html.escape(clean(person.subject, 200))
        return _page(
            f'<p class="ok">Linked: your requests as <b>{who}</b> now use this Code Ocean token. You can close this '
            "page and return to your assistant.</p>"
        )

    return [
        Route(LINK_PATH, open_link, methods=["GET"]),
        Route(CALLBACK_PATH, signed_in, methods=["GET"]),
        Route(LINK_PATH, link, methods=["POST"]),
    ]
