"""``co-mcp doctor``: checks configuration, the Code Ocean connection, the token's scopes and the audit log.

One line per check, ``ok``, ``warn`` or ``FAIL``, each failure or warning with what to do. Exit status:
0 when nothing failed (warnings allowed), 1 when any check failed (a configuration error included);
argparse's usage errors are 2, as for every co-mcp command. It imports no ``mcp``: it needs only
``co_mcp.config`` and ``co_mcp.api``, so it starts fast and works when the MCP side is what is broken.

Checks, in order; the network ones run only once the configuration allows them:

1. ``settings``: every ``CO_MCP_*`` variable parses; an unknown ``CO_MCP_*`` name (a typo) is a warning.
2. ``credentials``: the named cloud credential sets (``CO_MCP_CREDENTIALS[_FILE]``) can be read.
3. ``domain`` / ``token``: ``CODEOCEAN_DOMAIN`` is an http(s) URL (plain http beyond loopback is a
   warning: the token would cross the network unencrypted) and ``CODEOCEAN_TOKEN`` is set.
4. ``reach``: an unauthenticated GET of the API root; any HTTP answer proves DNS, TCP and TLS work, and
   how long it took is shown. Refused, timed out or a bad certificate is a failure, and stops here.
5. ``token`` / ``read``: a search with ``limit: 1``. 401 means Code Ocean does not know the token; 403
   means it does, but the token may not read data assets.
6. ``write``: whether the token may change data assets, found out WITHOUT changing anything (below).
7. ``audit log``: the file (or its nearest existing folder) is writable, judged with ``os.access``, so
   nothing is created; ``-`` (stderr) always passes.
8. ``state`` / ``confirm secret``: where used confirmations are recorded, and the confirm secret's file.
9. ``team`` (only with ``CO_MCP_AUTH_ISSUER``): ``CO_MCP_CREDENTIAL_KEY`` is set and well formed, and the
   table of linked Code Ocean tokens can be read: how many people of the issuer linked a token, and whether
   any was linked under a key ``CO_MCP_CREDENTIAL_KEY`` no longer holds. In team mode the connection checks
   are ``domain``/``reach`` (Code Ocean answers), ``token`` (no shared ``CODEOCEAN_TOKEN`` is set) and
   ``issuer`` (the provider's metadata and signing keys can be read).
10. ``safety`` / ``http``: read-only mode, tool lists, confirmation mode and token lifetime; and for an
   HTTP deployment, whether the bearer token, allowed hosts and a shared confirmation secret are set.

The write probe. It sends ``PUT /data_assets/<random uuid4>`` with every field ``null`` (the empty change:
null leaves a field as it is). The sandbox, modelling Code Ocean, checks in this order: 401 (token),
403 for *scope* (a read-only token is refused before anything is looked up), 404 (no such asset), then
403 for role, 409 and 400. So:

* 404: the scope check passed, so the token may write; the asset lookup then failed, as intended.
* 403: refused at the scope check: a read-only token.
* 400: this server validated the body before the scope; inconclusive (a warning).

Nothing can change: a random version-4 UUID names no existing asset (a collision has probability about
2**-122), and even if it did, an all-null PUT changes no field. A PUT never creates anything, and it is
sent once, without retries.

A read-only token is a *warning*, not a failure: reading works, and ``CO_MCP_READ_ONLY=1`` makes it a
complete setup (then it is ``ok``). Without that setting the write tools are offered and every call to
one would be refused with 403, which is worth fixing but breaks nothing else.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO
from urllib.parse import urlsplit

import anyio
import httpx2

from co_mcp import __version__
from co_mcp.api.client import CodeOceanClient, RetryPolicy
from co_mcp.api.models import DataAssetSearchParams, DataAssetUpdateParams
from co_mcp.config import Settings, load_settings
from co_mcp.errors import (
    AuthenticationError,
    BadRequestError,
    CodeOceanError,
    ConfigurationError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from co_mcp.exposure import is_loopback, missing_beyond_loopback

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["Check", "checking_client", "diagnose", "run_doctor", "token_checks"]

Status = Literal["ok", "warn", "FAIL"]

# Shorter than a secret anyone would generate on purpose (`openssl rand -hex 32` gives 64 characters).
MIN_SECRET_LENGTH = 32
ACCESS_ADVICE = (
    "create an access token on your Code Ocean account page, with the Datasets scope, and set CODEOCEAN_TOKEN"
)
LINK_ADVICE = "each person's token is linked with `co-mcp credentials link SUBJECT`, which reads it from stdin"


@dataclass(frozen=True)
class Check:
    """The outcome of one check: its name, ok/warn/FAIL, what was found, and what to do about it."""

    name: str
    status: Status
    detail: str
    advice: str = ""

    def render(self) -> str:
        line = f"{self.status:<4}  {self.name:<11}  {self.detail}"
        return line + (f"\n{'':<19}-> {self.advice}" if self.advice else "")


def _known_variables() -> set[str]:
    names = set()
    for field, info in Settings.model_fields.items():
        if not field.startswith("codeocean"):
            names.add(f"CO_MCP_{field.upper()}")
        alias = info.validation_alias
        names.update(str(choice) for choice in getattr(alias, "choices", ()) if str(choice).isupper())
    return names


def _settings_checks() -> tuple[Settings | None, list[Check]]:
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        return None, [Check("settings", "FAIL", str(exc), "correct the variable named, or unset it")]
    known = _known_variables()
    given = sorted(name for name in os.environ if name.startswith("CO_MCP_"))
    unknown = [name for name in given if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
        check = Check("settings", "warn", f"ignored, not a co-mcp setting: {', '.join(hints)}", "fix the name")
    else:
        check = Check("settings", "ok", f"CO_MCP_* settings parse ({len(given)} set)")
    checks = [check]
    try:
        sets = settings.credential_sets()
    except ConfigurationError as exc:
        checks.append(Check("credentials", "FAIL", str(exc), "fix the file, or unset CO_MCP_CREDENTIALS_FILE"))
    else:
        shown = f"{len(sets)} named set(s): {', '.join(sorted(sets))}" if sets else "no named cloud credential sets"
        checks.append(Check("credentials", "ok", shown))
    return settings, checks


def checking_client(settings: Settings, domain: str, token: SecretStr) -> CodeOceanClient:
    """A client that tries each request once: the doctor (and ``credentials link``) report what happened,
    rather than hiding it behind retries. InvalidArgumentError (field ``domain`` or ``token``) if unusable."""
    return CodeOceanClient(
        domain,
        token,
        agent_id=settings.codeocean_agent_id,
        timeout=httpx2.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        retry=RetryPolicy(attempts=1, timeout=settings.connect_timeout + settings.read_timeout),
    )


def _connection_checks(settings: Settings) -> tuple[CodeOceanClient | None, list[Check]]:
    checks: list[Check] = []
    domain = settings.codeocean_domain
    token = settings.codeocean_token
    if not domain:
        checks.append(
            Check(
                "domain",
                "FAIL",
                "CODEOCEAN_DOMAIN is not set",
                "set it to your Code Ocean URL, e.g. https://codeocean.example.com (or try `co-mcp --sandbox`)",
            )
        )
    if token is None or not token.get_secret_value():
        checks.append(Check("token", "FAIL", "CODEOCEAN_TOKEN is not set", ACCESS_ADVICE))
    if checks or domain is None or token is None:
        return None, checks
    try:
        client = checking_client(settings, domain, token)
    except InvalidArgumentError as exc:
        name = "domain" if exc.field == "domain" else "token"
        problem = str(exc).removeprefix(f"{exc.field}: ")
        return None, [Check(name, "FAIL", f"CODEOCEAN_{name.upper()} {problem}", f"correct CODEOCEAN_{name.upper()}")]
    parts = urlsplit(client.domain)
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        checks.append(
            Check(
                "domain",
                "warn",
                f"{client.domain} is plain http: the token would cross the network unencrypted",
                "use the https:// URL",
            )
        )
    else:
        checks.append(Check("domain", "ok", client.domain))
    return client, checks


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


async def _reach(settings: Settings, domain: str) -> Check:
    url = f"{domain}/api/v1/"
    timeout = httpx2.Timeout(settings.read_timeout, connect=settings.connect_timeout)
    started = time.perf_counter()
    try:
        async with httpx2.AsyncClient(timeout=timeout, follow_redirects=False) as http:
            response = await http.get(url, headers={"User-Agent": f"co-mcp-doctor/{__version__}"})
    except httpx2.ConnectTimeout:
        return Check(
            "reach",
            "FAIL",
            f"no connection to {domain} within {settings.connect_timeout:g} s",
            "check CODEOCEAN_DOMAIN, your network, VPN or proxy (HTTPS_PROXY); raise CO_MCP_CONNECT_TIMEOUT if slow",
        )
    except httpx2.TimeoutException:
        return Check(
            "reach",
            "FAIL",
            f"{domain} accepted the connection but did not answer within {settings.read_timeout:g} s",
            "check the server or proxy in front of it; raise CO_MCP_READ_TIMEOUT if it is merely slow",
        )
    except httpx2.TransportError as exc:
        reason = _reason(exc)
        advice = "check CODEOCEAN_DOMAIN (scheme, host, port) and your network, VPN or proxy (HTTPS_PROXY)"
        if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
            advice = "the TLS certificate was refused: point SSL_CERT_FILE at your organisation's CA bundle"
        return Check("reach", "FAIL", f"cannot connect to {domain} ({reason})", advice)
    elapsed = (time.perf_counter() - started) * 1e3
    return Check("reach", "ok", f"{domain} answered (HTTP {response.status_code}) in {elapsed:.0f} ms")


async def token_checks(client: CodeOceanClient) -> list[Check]:
    """Whether Code Ocean accepts the client's token and lets it search data assets: a search with limit 1.

    ``token`` FAIL on 401; ``token`` ok and ``read`` FAIL on 403; ``read`` FAIL when the search failed
    otherwise. Every check ok: the token may read data assets. Also the test ``credentials link`` applies.
    """
    started = time.perf_counter()
    try:
        page = await client.search_data_assets(DataAssetSearchParams(limit=1))
    except AuthenticationError:
        return [
            Check("token", "FAIL", "Code Ocean refused the token (401): unknown, revoked or expired", ACCESS_ADVICE)
        ]
    except PermissionDeniedError as exc:
        return [
            Check("token", "ok", "accepted"),
            Check("read", "FAIL", f"the token may not search data assets (403: {exc.message})", ACCESS_ADVICE),
        ]
    except CodeOceanError as exc:
        return [
            Check("read", "FAIL", f"a search with limit 1 failed: {exc}", "run again; if it persists, ask your admin")
        ]
    elapsed = (time.perf_counter() - started) * 1e3
    found = "no data assets visible yet" if not page.results else "data assets visible"
    return [
        Check("token", "ok", "accepted"),
        Check("read", "ok", f"search answered in {elapsed:.0f} ms; {found}"),
    ]


async def _write(client: CodeOceanClient, settings: Settings) -> Check:
    probe = str(uuid.uuid4())
    try:
        # An all-null PUT to an id that does not exist: see the module docstring for why this is safe.
        await client.update_data_asset(probe, DataAssetUpdateParams())
    except NotFoundError:
        if settings.read_only:
            return Check("write", "ok", "the token may write, but CO_MCP_READ_ONLY=1 serves no write tools")
        return Check("write", "ok", "the token may change data assets (probe answered 404; nothing was changed)")
    except PermissionDeniedError:
        if settings.read_only:
            return Check("write", "ok", "read-only token, matching CO_MCP_READ_ONLY=1")
        return Check(
            "write",
            "warn",
            "read-only token: create, update, archive, share and delete would each be refused (403)",
            "set CO_MCP_READ_ONLY=1 to offer only the read tools, or use a Read & Write token",
        )
    except BadRequestError as exc:
        return Check("write", "warn", f"inconclusive: the server checked the probe's body first ({exc.message})")
    except CodeOceanError as exc:
        return Check("write", "warn", f"inconclusive: the write probe failed ({exc})")
    return Check("write", "warn", f"inconclusive: the probe id {probe} unexpectedly exists (nothing was changed)")


def _file_check(name: str, path: Path, advice: str) -> Check:
    """Whether co-mcp can append to ``path`` or create it; nothing is created here."""
    if path.exists():
        if path.is_file() and os.access(path, os.W_OK):
            return Check(name, "ok", f"{path} (appending)")
        return Check(name, "FAIL", f"{path} is not a writable file", advice)
    # The nearest existing ancestor must let co-mcp create the rest.
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return Check(name, "ok", f"{path} (will be created)")
    return Check(name, "FAIL", f"{path} cannot be created: {parent} is not a writable folder", advice)


def _audit_check(settings: Settings) -> Check:
    from co_mcp.audit import default_audit_path
    from co_mcp.store import state_directory

    if settings.audit_log == "-":
        return Check("audit log", "ok", "written to stderr (CO_MCP_AUDIT_LOG=-)")
    default = state_directory(settings.state_dir) / default_audit_path().name
    path = Path(settings.audit_log).expanduser() if settings.audit_log else default
    return _file_check("audit log", path, "set CO_MCP_AUDIT_LOG to a file this user may write, or - for stderr")


async def _state_checks(settings: Settings) -> list[Check]:
    """Where used confirmations are recorded (each acts at most once) and where the confirm secret is kept."""
    from co_mcp.store import ConfirmationStore, StoreError, confirmation_key, state_directory, state_files

    secret_file, state_file = state_files(state_directory(settings.state_dir))
    advice = "set CO_MCP_STATE_DIR to a folder this user may write, or CO_MCP_STATE_URL to a shared database"
    if settings.state_url is None:
        store_check = _file_check("state", state_file, advice)
    else:
        store = ConfirmationStore(settings.state_url.get_secret_value())
        try:
            # A look-up of a key nobody uses: it reads, and records nothing.
            await store.lookup(confirmation_key("confirm_token", "co-mcp doctor probe"))
            store_check = Check("state", "ok", f"used confirmations recorded in {store.describe()}")
        except StoreError as exc:
            store_check = Check("state", "FAIL", f"{store.describe()} cannot be used: {exc}", advice)
        finally:
            store.close()
    if settings.confirm_secret is not None:
        return [store_check]
    secret = _file_check("confirm secret", secret_file, advice)
    if secret.status == "ok":
        secret = Check(
            "confirm secret",
            "ok",
            f"{secret.detail}: shared by every co-mcp process with this state directory; replicas on other "
            "machines need the same CO_MCP_CONFIRM_SECRET",
        )
    return [store_check, secret]


async def _team_connection_checks(settings: Settings) -> list[Check]:
    """Team mode: Code Ocean reachable, no shared token set, and the identity provider's signing keys readable."""
    from co_mcp.api.domain import domain_problem, normalise_domain
    from co_mcp.oauth import AccessTokenValidator
    from co_mcp.team import team_urls
    from co_mcp.text import clean

    checks: list[Check] = []
    domain = settings.codeocean_domain
    problem = domain_problem(domain) if domain else "is not set"
    if domain is None or problem is not None:
        checks.append(Check("domain", "FAIL", f"CODEOCEAN_DOMAIN {problem}", "set it to your Code Ocean URL"))
    else:
        checks.append(await _reach(settings, normalise_domain(domain)))
    if settings.codeocean_token is not None:
        checks.append(
            Check(
                "token",
                "FAIL",
                "CODEOCEAN_TOKEN is set: team mode acts with each person's own token and refuses a shared one",
                "unset CODEOCEAN_TOKEN",
            )
        )
    else:
        checks.append(Check("token", "ok", "team mode: each person's own Code Ocean token, checked when linked"))
    try:
        issuer, public = team_urls(settings)
    except ConfigurationError as exc:
        return [*checks, Check("issuer", "FAIL", str(exc), "set CO_MCP_AUTH_ISSUER and CO_MCP_PUBLIC_URL")]
    validator = AccessTokenValidator(issuer, public, httpx2.AsyncClient(timeout=httpx2.Timeout(10.0)))
    try:
        count = await validator.signing_keys()
    except Exception as exc:  # any failure to read them is the finding
        reason = clean(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 300)
        checks.append(
            Check(
                "issuer",
                "FAIL",
                f"cannot read the signing keys of {issuer}: {reason}",
                "check CO_MCP_AUTH_ISSUER: it must be the provider's issuer exactly, as its "
                "/.well-known/openid-configuration says",
            )
        )
    else:
        checks.append(Check("issuer", "ok", f"{issuer} publishes {count} signing key(s); tokens must name {public}"))
    finally:
        await validator.aclose()
    if not settings.link_client_id:
        checks.append(
            Check(
                "link page",
                "FAIL",
                "CO_MCP_LINK_CLIENT_ID is not set: the link page cannot sign people in, so co-mcp will not start",
                f"register a client at the provider with the redirect URI {public.removesuffix('/mcp')}/link/callback "
                "and set its id",
            )
        )
    return checks


async def _team_checks(settings: Settings) -> list[Check]:
    """Team mode (CO_MCP_AUTH_ISSUER): the credential key, and the table of linked Code Ocean tokens."""
    if settings.auth_issuer is None:
        return []
    from co_mcp.linked import LinkedTokens, credential_key_from_settings
    from co_mcp.store import StoreError, state_location

    try:
        key = credential_key_from_settings(settings)
    except ConfigurationError as exc:
        return [Check("team", "FAIL", str(exc), "set the same CO_MCP_CREDENTIAL_KEY on every co-mcp process")]
    where = state_location(settings)
    advice = "set CO_MCP_STATE_DIR to a folder this user may write, or CO_MCP_STATE_URL to a shared database"
    if where.sqlite_path is not None and not where.sqlite_path.exists():
        found = _file_check("team", where.sqlite_path, advice)
        if found.status != "ok":
            return [found]
        return [Check("team", "warn", f"no Code Ocean token linked yet ({found.detail})", LINK_ADVICE)]
    tokens = LinkedTokens(where.url, sqlite_path=where.sqlite_path, key=key)
    try:
        linked = await tokens.linked(settings.auth_issuer)
        stale = await tokens.under_other_keys(settings.auth_issuer)
    except StoreError as exc:
        return [Check("team", "FAIL", f"{tokens.describe()} cannot be used: {exc}", advice)]
    finally:
        tokens.close()
    if not linked:
        return [Check("team", "warn", f"no Code Ocean token linked yet in {tokens.describe()}", LINK_ADVICE)]
    if stale:
        return [
            Check(
                "team",
                "warn",
                f"{len(stale)} of {len(linked)} linked Code Ocean token(s) were linked under a different "
                "CO_MCP_CREDENTIAL_KEY and cannot be used",
                "link them again (`co-mcp credentials list` shows who), or add the old key after the new one, "
                "comma-separated",
            )
        ]
    return [Check("team", "ok", f"{len(linked)} person(s) have a Code Ocean token linked in {tokens.describe()}")]


def _safety_checks(settings: Settings) -> list[Check]:
    mode = {
        "auto": "asked through the client when it can, else preview + confirm_token",
        "elicit": "asked through the client only",
        "token": "preview + confirm_token",
    }[settings.confirm]
    tools = "read-only: no write tools" if settings.read_only else "write tools on"
    # Counted, not listed: a setting's value is never repeated (it may be a secret pasted in the wrong place).
    if settings.tools:
        tools += f"; only the {len(settings.tools)} tool(s) of CO_MCP_TOOLS"
    if settings.disable:
        tools += f"; never the {len(settings.disable)} tool(s) of CO_MCP_DISABLE"
    checks = [Check("safety", "ok", f"{tools}; destructive actions {mode}, tokens valid {settings.confirm_ttl} s")]
    if settings.http_no_auth:
        checks.append(
            Check(
                "http",
                "warn",
                "CO_MCP_HTTP_NO_AUTH is set: on loopback the HTTP transport asks for no bearer token, so any local "
                "process or user can call every tool",
                "unset it; clients then send CO_MCP_HTTP_TOKEN (or the token co-mcp shows at start)",
            )
        )
    team = settings.auth_issuer is not None
    deployed = bool(team or settings.http_token or settings.allowed_hosts or settings.allowed_origins)
    if not deployed:
        return checks
    # In team mode the identity provider's access tokens stand for the bearer token.
    missing = missing_beyond_loopback(
        allowed_hosts=settings.allowed_hosts, token=team or settings.http_token is not None
    )
    if missing:
        checks.append(
            Check(
                "http",
                "warn",
                f"{' and '.join(missing)} not set: co-mcp refuses to bind beyond loopback without both",
                "set both for a deployment behind a reverse proxy",
            )
        )
    secret = settings.confirm_secret
    if secret is None:
        checks.append(
            Check(
                "http",
                "warn",
                "CO_MCP_CONFIRM_SECRET is not set: workers share the confirm secret only if they share the state "
                "directory (CO_MCP_STATE_DIR)",
                "set the same CO_MCP_CONFIRM_SECRET (e.g. `openssl rand -hex 32`) on every worker of every machine",
            )
        )
    elif len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
        checks.append(
            Check(
                "http",
                "warn",
                f"CO_MCP_CONFIRM_SECRET is shorter than {MIN_SECRET_LENGTH} characters",
                "use a long random value, e.g. `openssl rand -hex 32`",
            )
        )
    if not missing and secret is not None and len(secret.get_secret_value()) >= MIN_SECRET_LENGTH:
        hosts = ", ".join(settings.allowed_hosts)
        who = "access tokens from CO_MCP_AUTH_ISSUER" if team else "bearer token"
        checks.append(Check("http", "ok", f"{who} and shared confirm secret set; hosts: {hosts}"))
    return checks


async def diagnose() -> list[Check]:
    """Run every check against the environment; the network checks stop at the first that fails."""
    settings, checks = _settings_checks()
    if settings is None:
        return checks
    client: CodeOceanClient | None = None
    if settings.auth_issuer is not None:
        # Team mode: no shared Code Ocean token to check; each person's is checked when they link it.
        checks += await _team_connection_checks(settings)
    else:
        client, connection = _connection_checks(settings)
        checks += connection
    if client is not None:
        async with client:
            reach = await _reach(settings, client.domain)
            checks.append(reach)
            if reach.status == "ok":
                read = await token_checks(client)
                checks += read
                if all(check.name != "token" or check.status == "ok" for check in read):
                    checks.append(await _write(client, settings))
    checks.append(_audit_check(settings))
    checks += await _state_checks(settings)
    checks += await _team_checks(settings)
    checks += _safety_checks(settings)
    return checks


def report(checks: list[Check], out: TextIO) -> int:
    """Print the checks and a summary line; the exit status (0 unless something failed)."""
    print(f"co-mcp doctor {__version__}", file=out)
    for check in checks:
        print(check.render(), file=out)
    failures = sum(check.status == "FAIL" for check in checks)
    warnings = sum(check.status == "warn" for check in checks)
    verdict = "ready" if not failures else "not ready"
    print(f"{verdict}: {failures} failure(s), {warnings} warning(s)", file=out, flush=True)
    return 1 if failures else 0


def run_doctor(out: TextIO | None = None) -> int:
    """``co-mcp doctor``: diagnose, print the report to stdout, and return the exit status."""
    return report(anyio.run(diagnose), out or sys.stdout)
