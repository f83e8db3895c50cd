"""Command line: ``co-mcp`` serves MCP (stdio or HTTP); ``sandbox``, the Code Ocean emulator; ``demo``; ``doctor``;
``credentials``, team mode's linked Code Ocean tokens.

Heavy imports (mcp, the sandbox) happen inside the command that needs them: start-up time is what a
desktop client waits for.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING

from co_mcp import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from co_mcp.api.client import CodeOceanClient
    from co_mcp.config import Settings
    from co_mcp.linked import LinkedTokens

log = logging.getLogger("co_mcp")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port (0-65535)")
    return value


def _count(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-1000000")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{value} is outside 0-3600 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="co-mcp",
        description="co_mcp: an MCP server for Code Ocean data assets, and a local sandbox of the Code Ocean API.",
    )
    parser.add_argument("--version", action="version", version=f"co-mcp {__version__}")
    parser.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="serve against an embedded, in-process Code Ocean sandbox with demo data (no account needed)",
    )
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="offer no write tools at all (CO_MCP_READ_ONLY=1)"
    )
    parser.add_argument("--tools", metavar="NAMES", help="offer only these tools, comma-separated (CO_MCP_TOOLS)")
    parser.add_argument("--disable", metavar="NAMES", help="never offer these tools, comma-separated (CO_MCP_DISABLE)")
    parser.add_argument(
        "--transport", choices=["stdio", "http"], default="stdio", help="MCP transport (default: stdio)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="HTTP transport: address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="HTTP transport: TCP port (default: 8000)")
    parser.add_argument(
        "--no-auth",
        action="store_true",
        default=None,
        help="HTTP transport on loopback: require NO bearer token, so any local process or user can call every "
        "tool (CO_MCP_HTTP_NO_AUTH=1). Without it, CO_MCP_HTTP_TOKEN is required, or one is made and shown once",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sandbox = commands.add_parser(
        "sandbox",
        help="serve a local emulator of the Code Ocean data-asset API with demo data",
        description=(
            "Serve a faithful local emulator of the Code Ocean data-asset API (SQLite-backed) over HTTP. "
            "It prints the CODEOCEAN_DOMAIN and CODEOCEAN_TOKEN to point a client at it."
        ),
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    sandbox.add_argument("--port", type=_port, default=8765, help="TCP port (default: 8765; 0 picks a free one)")
    sandbox.add_argument("--db", default=None, help="SQLite file to keep data in (default: in memory)")
    sandbox.add_argument("--assets", type=_count, default=200, help="demo assets to generate (default: 200)")
    sandbox.add_argument("--seed", type=int, default=0, help="seed for the demo data (default: 0)")
    sandbox.add_argument("--token", default=None, help="the primary user's token (default: cop_sandbox_token)")
    sandbox.add_argument(
        "--ready-delay", type=_seconds, default=5.0, help="seconds a new asset stays in draft (default: 5)"
    )
    sandbox.add_argument(
        "--faults",
        default=None,
        metavar="SPEC",
        help="inject faults, e.g. '429:0.2:retry-after=1;503:0.1@search;latency:50ms' (see co_mcp.sandbox.faults)",
    )
    commands.add_parser(
        "demo",
        help="a guided tour: starts co-mcp --sandbox as an MCP server and runs a scripted session against it",
    )
    commands.add_parser(
        "doctor",
        help="check the configuration, the connection to Code Ocean and the token's scopes, changing nothing",
        description=(
            "Check the settings, reach CODEOCEAN_DOMAIN, verify the token and whether it may read and write "
            "data assets (without changing any), and the audit log. One line per check; exit 1 if any failed."
        ),
    )
    _credentials_parser(commands)
    return parser


def _credentials_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    credentials = commands.add_parser(
        "credentials",
        help="team mode: link each person's Code Ocean token to their identity (issuer + subject)",
        description=(
            "Team mode (CO_MCP_AUTH_ISSUER): each person acts on Code Ocean with their own access token, linked "
            "once to their identity at the OAuth issuer, and kept encrypted under CO_MCP_CREDENTIAL_KEY in the "
            "state database (CO_MCP_STATE_URL, or state.sqlite3 in CO_MCP_STATE_DIR). Exit 0: done; 1: refused "
            "or not found; 2: usage or configuration."
        ),
    )
    actions = credentials.add_subparsers(dest="action", metavar="ACTION", required=True)
    issuer_help = "the OAuth issuer URL the subject belongs to (default: CO_MCP_AUTH_ISSUER)"
    link = actions.add_parser(
        "link",
        help="check a Code Ocean token against CODEOCEAN_DOMAIN, then link it to SUBJECT (token read from stdin)",
        description=(
            "Read SUBJECT's Code Ocean access token from stdin (one line; at a terminal, a prompt that does not "
            "echo), check it against CODEOCEAN_DOMAIN with a search that changes nothing, and store it, encrypted, "
            "replacing any token linked before. A token Code Ocean refuses is not stored."
        ),
    )
    link.add_argument("subject", metavar="SUBJECT", help="the person's subject (sub claim) at the issuer")
    link.add_argument("--issuer", metavar="URL", help=issuer_help)
    link.add_argument("--label", metavar="TEXT", help="a note shown by `list`, e.g. the person's email (not secret)")
    unlink = actions.add_parser("unlink", help="forget SUBJECT's linked Code Ocean token")
    unlink.add_argument("subject", metavar="SUBJECT", help="the person's subject (sub claim) at the issuer")
    unlink.add_argument("--issuer", metavar="URL", help=issuer_help)
    listing = actions.add_parser(
        "list", help="who has a Code Ocean token linked: issuer, subject, label, when (never a token)"
    )
    listing.add_argument("--issuer", metavar="URL", help="only this issuer's subjects (default: every issuer)")
    actions.add_parser("new-key", help="print a fresh CO_MCP_CREDENTIAL_KEY")


def _run_credentials(args: argparse.Namespace) -> int:
    """``co-mcp credentials ...``: one sentence on stderr for any failure, never a token anywhere."""
    from co_mcp.errors import CoMcpError, ConfigurationError, InvalidArgumentError

    if args.action == "new-key":
        from co_mcp.linked import CredentialKey

        print(CredentialKey.generate())
        print(
            "co-mcp: set this as CO_MCP_CREDENTIAL_KEY on every co-mcp process of the deployment; keep it secret",
            file=sys.stderr,
        )
        return 0
    try:
        return _credentials(args)
    except (ConfigurationError, InvalidArgumentError) as exc:
        print(f"co-mcp credentials: {exc}", file=sys.stderr)
        return 2
    except CoMcpError as exc:
        print(f"co-mcp credentials: {exc}", file=sys.stderr)
        return 1


def _credentials(args: argparse.Namespace) -> int:
    import anyio

    from co_mcp.config import load_settings
    from co_mcp.errors import ConfigurationError
    from co_mcp.linked import linked_tokens_from_settings

    settings = load_settings()
    tokens = linked_tokens_from_settings(settings)
    try:
        if args.action == "list":
            linked = anyio.run(tokens.linked, args.issuer)
            stale = {(row.issuer, row.subject) for row in anyio.run(tokens.under_other_keys, args.issuer)}
            if not linked:
                print("co-mcp credentials: no Code Ocean token is linked", file=sys.stderr)
                return 0
            print("ISSUER\tSUBJECT\tLABEL\tLINKED AT")
            for row in linked:
                when = row.linked_at.isoformat(timespec="seconds").replace("+00:00", "Z")
                note = (
                    " (under another CO_MCP_CREDENTIAL_KEY: link again)" if (row.issuer, row.subject) in stale else ""
                )
                print(f"{row.issuer}\t{row.subject}\t{row.label or '-'}\t{when}{note}")
            return 0
        issuer = args.issuer or settings.auth_issuer
        if not issuer:
            raise ConfigurationError("no issuer: pass --issuer URL, or set CO_MCP_AUTH_ISSUER")
        if args.action == "unlink":
            if anyio.run(tokens.unlink, issuer, args.subject):
                print(f"co-mcp credentials: unlinked {args.subject} at {issuer}", file=sys.stderr)
                return 0
            print(f"co-mcp credentials: no Code Ocean token is linked for {args.subject} at {issuer}", file=sys.stderr)
            return 1
        return _link(settings, tokens, issuer, args)
    finally:
        tokens.close()


def _link(settings: Settings, tokens: LinkedTokens, issuer: str, args: argparse.Namespace) -> int:
    """Read the token, check it against Code Ocean with the doctor's own check, and store it only if accepted."""
    import anyio
    from pydantic import SecretStr

    from co_mcp.doctor import checking_client, token_checks
    from co_mcp.errors import ConfigurationError, InvalidArgumentError

    domain = settings.codeocean_domain
    if not domain:
        raise ConfigurationError(
            "CODEOCEAN_DOMAIN is not set: the token is checked against Code Ocean before it is stored"
        )
    token = SecretStr(_read_token(args.subject))
    try:
        client = checking_client(settings, domain, token)
    except InvalidArgumentError as exc:
        if exc.field == "domain":
            raise ConfigurationError(f"CODEOCEAN_DOMAIN {str(exc).removeprefix('domain: ')}") from None
        raise

    async def check_and_link() -> str | None:
        async with client:
            checks = await token_checks(client)
        failed = next((check for check in checks if check.status != "ok"), None)
        if failed is not None:
            return failed.detail
        await tokens.link(issuer, args.subject, token, label=args.label)
        return None

    refusal = anyio.run(check_and_link)
    if refusal is not None:
        print(f"co-mcp credentials: not linked, {refusal}; nothing was stored", file=sys.stderr)
        return 1
    print(f"co-mcp credentials: linked {args.subject} at {issuer} (checked against {client.domain})", file=sys.stderr)
    return 0


def _read_token(subject: str) -> str:
    """The token: one line of stdin, or at a terminal a prompt that does not echo it."""
    from co_mcp.errors import InvalidArgumentError

    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass(f"Code Ocean access token for {subject} (not shown): ")
    else:
        value, rest = sys.stdin.readline(), sys.stdin.read()
        if rest.strip():
            raise InvalidArgumentError("token", "stdin must hold the Code Ocean access token alone, on one line")
    if not value.strip():
        raise InvalidArgumentError("token", "none given: pipe the Code Ocean access token into stdin")
    return value.strip()


def _run_sandbox(args: argparse.Namespace) -> int:
    from co_mcp.exposure import is_loopback
    from co_mcp.sandbox import DEFAULT_TOKEN, Sandbox
    from co_mcp.sandbox.server import serve

    if not is_loopback(args.host):
        log.warning("the sandbox's tokens are public; binding %s exposes it beyond this machine", args.host)
    try:
        sandbox = Sandbox(
            db_path=args.db,
            assets=args.assets,
            seed=args.seed,
            ready_delay=args.ready_delay,
            faults=args.faults,
            token=args.token or DEFAULT_TOKEN,
        )
    except ValueError as exc:
        print(f"co-mcp sandbox: {exc}", file=sys.stderr)
        return 2
    serve(sandbox, args.host, args.port)
    return 0


def embedded_sandbox_client(*, assets: int = 200, ready_delay: float = 3.0) -> CodeOceanClient:
    """A client wired in-process to a fresh sandbox with demo data: no port, no account."""
    import httpx2

    from co_mcp.api.client import CodeOceanClient
    from co_mcp.sandbox import DEFAULT_TOKEN, Sandbox

    # Nobody reads this sandbox's request log: keep it small, or a long session grows by every request.
    sandbox = Sandbox(assets=assets, ready_delay=ready_delay, log_size=1_000)
    # The sandbox signs file links with the host it was asked on; this one never resolves off-process.
    return CodeOceanClient(
        "http://sandbox.co-mcp.invalid", DEFAULT_TOKEN, transport=httpx2.ASGITransport(app=sandbox.app)
    )


def _serve(args: argparse.Namespace) -> int:
    from co_mcp.config import load_settings
    from co_mcp.errors import ConfigurationError

    # Flags win over the environment; an unset flag leaves the variable's value alone.
    flags = {"read_only": args.read_only, "tools": args.tools, "disable": args.disable, "http_no_auth": args.no_auth}
    try:
        settings = load_settings(**{name: value for name, value in flags.items() if value is not None})
        from co_mcp.server import ServerOptions, build_server, serve, settings_client_factory

        if settings.auth_issuer is not None:
            return _serve_team(args, settings)
        options = ServerOptions.from_settings(settings, sandbox=args.sandbox)

        factory: Callable[[], CodeOceanClient]
        if args.sandbox:
            log.info("serving against an embedded sandbox with demo data")
            factory = embedded_sandbox_client
        else:
            factory = settings_client_factory(settings)
        server = build_server(factory, options=options)
        token = _http_credential(settings, args) if args.transport == "http" else None
        serve(server, transport=args.transport, settings=settings, host=args.host, port=args.port, token=token)
    except ConfigurationError as exc:
        print(f"co-mcp: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


def _serve_team(args: argparse.Namespace, settings: Settings) -> int:
    """Team mode: HTTP only, each person with their own Code Ocean token; no shared token exists."""
    from co_mcp.errors import ConfigurationError
    from co_mcp.server import ServerOptions, build_server, serve

    if args.transport != "http":
        raise ConfigurationError(
            "CO_MCP_AUTH_ISSUER is for the HTTP transport (--transport http), where each person signs in; over stdio "
            "co-mcp acts for the one user who started it, with CODEOCEAN_TOKEN"
        )
    if args.sandbox:
        raise ConfigurationError(
            "team mode links each person's token for a Code Ocean deployment, so it does not run with --sandbox: "
            "to try it, serve a sandbox with `co-mcp sandbox` and set CODEOCEAN_DOMAIN to its URL"
        )
    options = ServerOptions.from_settings(settings)

    def no_shared_client() -> CodeOceanClient:
        raise ConfigurationError("team mode has no shared Code Ocean token")

    server = build_server(no_shared_client, options=options)
    serve(server, transport="http", settings=settings, host=args.host, port=args.port, team=options.team)
    return 0


def _http_credential(settings: Settings, args: argparse.Namespace) -> str | None:
    """The bearer token HTTP clients must send, made here when none is configured; or None.

    A made token is shown once, on stderr, and nowhere else: not in a log record (log handlers may send
    records anywhere), not on stdout. The opt-out gets a warning that cannot be turned down
    with --log-level. Beyond loopback nothing is made: the server refuses to start without CO_MCP_HTTP_TOKEN.
    """
    import secrets

    from co_mcp.exposure import is_loopback

    url = f"http://{f'[{args.host}]' if ':' in args.host else args.host}:{args.port}/mcp"
    if settings.http_no_auth:
        if is_loopback(args.host) and settings.http_token is None:
            print(
                f"co-mcp: WARNING: NO AUTHENTICATION on {url} (--no-auth / CO_MCP_HTTP_NO_AUTH=1): any process or "
                "user on this machine can call every tool, delete_data_asset included, with your Code Ocean access.",
                file=sys.stderr,
                flush=True,
            )
        return None
    if settings.http_token is not None or not is_loopback(args.host):
        return None
    token = secrets.token_urlsafe(32)
    print(
        f"co-mcp: clients of {url} must send this bearer token, made for this run and shown only here:\n"
        f"    Authorization: Bearer {token}\n"
        "co-mcp: set CO_MCP_HTTP_TOKEN to choose a lasting one.",
        file=sys.stderr,
        flush=True,
    )
    return token


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # stdout belongs to the stdio transport; every log line goes to stderr.
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format=LOG_FORMAT)
    # httpx2 logs every request at INFO; per-request lines belong to --log-level DEBUG.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.command == "sandbox":
        return _run_sandbox(args)
    if args.command == "demo":
        from co_mcp.demo import run_demo

        return run_demo()
    if args.command == "doctor":
        from co_mcp.doctor import run_doctor

        return run_doctor()
    if args.command == "credentials":
        return _run_credentials(args)
    return _serve(args)
