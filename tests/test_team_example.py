"""config-examples/team/: the team deployment's files are wired together, and the deployment runs.

There is no Docker engine here, so the deployment is brought up natively from the example's own files, as the
HTTP example's tests do: a throwaway PostgreSQL server for ``db``, the test OpenID provider (tests/oidc.py) for
``idp``, a sandbox over HTTP for Code Ocean, two co-mcp workers started with compose.yaml's ``command`` and
co-mcp.env's settings, and nginx with the example's nginx.conf. What is changed for the test is listed where it
is done (``LOCAL`` and ``local_site``): the addresses (localhost and free ports in place of service names), the
generated secrets in place of the placeholders, and plain HTTP in place of TLS.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx2
import pytest
import yaml
from mcp.shared.exceptions import MCPError

from co_mcp.cli import build_parser
from co_mcp.config import Settings
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.demo_data import DEMO_DATASET_ID
from co_mcp.sandbox.server import running
from tests.oidc import READ_SCOPE, WRITE_SCOPE, Provider
from tests.server.team import mcp_as, open_link, post_mcp, proof_of
from tests.support import text
from tests.test_config_examples import CO_MCP, EXAMPLES, clean_env, env_file, free_port

pytestmark = [pytest.mark.anyio, pytest.mark.examples]

TEAM = EXAMPLES / "team"
# The paths nginx must hand to the workers: MCP, the link page, and the protected resource metadata.
ROUTED = ["/mcp", "/link", "/link/callback", "/.well-known/oauth-protected-resource/mcp"]


def compose() -> dict[str, Any]:
    document = yaml.safe_load((TEAM / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def settings_file() -> dict[str, str]:
    return env_file(TEAM / "co-mcp.env")


def nginx_site() -> str:
    return (TEAM / "nginx.conf").read_text(encoding="utf-8")


def server_blocks(site: str) -> dict[str, str]:
    """nginx.conf's server blocks by server_name (the blocks hold no nested braces but their locations')."""
    blocks = {}
    for block in re.findall(r"^server \{\n(.*?)^\}", site, re.S | re.M):
        name = re.search(r"server_name ([^;]+);", block)
        blocks[name.group(1) if name else "default"] = block
    return blocks


def locations(block: str) -> dict[str, str]:
    return dict(re.findall(r"location (?:= )?(\S+) \{(.*?)\}", block, re.S))


# --- the files are wired together -------------------------------------------------------------------------------


def test_the_compose_file_runs_several_workers_from_the_wheel_with_postgres_support() -> None:
    worker = compose()["services"]["co-mcp"]
    assert worker["command"] == ["co-mcp", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
    assert worker["deploy"]["replicas"] > 1
    assert worker["env_file"] == "co-mcp.env"
    assert "[postgres]" in worker["build"]["dockerfile_inline"]
    assert "co_mcp-*-py3-none-any.whl" in worker["build"]["dockerfile_inline"]
    assert worker["depends_on"]["db"]["condition"] == "service_healthy"


def test_the_compose_file_has_nginx_a_database_and_an_identity_provider() -> None:
    services = compose()["services"]
    assert services.keys() == {"co-mcp", "nginx", "db", "idp"}
    nginx, db, idp = services["nginx"], services["db"], services["idp"]
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert {"mcp.example.org", "idp.example.org"} <= set(nginx["networks"]["default"]["aliases"])
    assert db["image"] == "postgres:16"
    assert [volume.split(":")[1] for volume in db["volumes"]] == ["/var/lib/postgresql/data"]
    assert db["volumes"][0].split(":")[0] in compose()["volumes"]
    assert idp["image"].startswith("quay.io/keycloak/keycloak:")
    assert idp["command"] == ["start-dev", "--import-realm"]
    mounted = {volume.split(":")[0]: volume.split(":")[1] for volume in idp["volumes"]}
    assert mounted["./realm.json"].startswith("/opt/keycloak/data/import/")
    for name in ("co-mcp.env", "db.env", "nginx.conf", "realm.json"):
        assert (TEAM / name).is_file(), name


def test_the_env_file_is_team_mode_with_no_shared_token() -> None:
    settings = settings_file()
    assert settings.keys().isdisjoint(
        {"CODEOCEAN_TOKEN", "CO_MCP_HTTP_TOKEN", "CO_MCP_HTTP_NO_AUTH", "CO_MCP_STATE_DIR"}
    )
    assert {
        "CODEOCEAN_DOMAIN",
        "CO_MCP_AUTH_ISSUER",
        "CO_MCP_PUBLIC_URL",
        "CO_MCP_READ_SCOPE",
        "CO_MCP_WRITE_SCOPE",
        "CO_MCP_CREDENTIAL_KEY",
        "CO_MCP_SUBJECT_CONCURRENCY",
        "CO_MCP_STATE_URL",
        "CO_MCP_CONFIRM_SECRET",
        "CO_MCP_ALLOWED_HOSTS",
        "CO_MCP_AUDIT_LOG",
    } <= settings.keys()
    assert (settings["CO_MCP_READ_SCOPE"], settings["CO_MCP_WRITE_SCOPE"]) == (READ_SCOPE, WRITE_SCOPE)


def test_every_name_the_env_file_sets_is_a_co_mcp_setting() -> None:
    known = set()
    for name, field in Settings.model_fields.items():
        aliases = getattr(field.validation_alias, "choices", None)
        known |= {alias for alias in aliases if alias.isupper()} if aliases else {f"CO_MCP_{name.upper()}"}
    assert set(settings_file()) <= known


def test_the_public_url_is_the_name_nginx_serves_and_co_mcp_allows() -> None:
    settings = settings_file()
    public = urlsplit(settings["CO_MCP_PUBLIC_URL"])
    assert (public.scheme, public.path) == ("https", "/mcp")
    assert public.hostname == settings["CO_MCP_ALLOWED_HOSTS"]
    assert public.hostname in server_blocks(nginx_site())


def test_the_state_url_names_the_db_service_and_its_account() -> None:
    state = urlsplit(settings_file()["CO_MCP_STATE_URL"])
    account = env_file(TEAM / "db.env")
    assert state.scheme == "postgresql"
    assert (state.hostname, state.port) == ("db", 5432)
    assert (state.username, state.password, state.path) == (
        account["POSTGRES_USER"],
        account["POSTGRES_PASSWORD"],
        f"/{account['POSTGRES_DB']}",
    )
    healthcheck = " ".join(compose()["services"]["db"]["healthcheck"]["test"])
    assert f"-U {account['POSTGRES_USER']} -d {account['POSTGRES_DB']}" in healthcheck


def test_nginx_routes_the_mcp_link_and_metadata_paths_to_the_workers_round_robin() -> None:
    site = nginx_site()
    public = server_blocks(site)[urlsplit(settings_file()["CO_MCP_PUBLIC_URL"]).hostname or ""]
    routes = locations(public)
    for path in ROUTED:
        assert "proxy_pass http://co_mcp;" in routes[path], path
    assert "return 404;" in routes["/"]
    upstream = re.search(r"upstream co_mcp \{(.*?)\}", site, re.S)
    assert upstream is not None
    assert "server co-mcp:8000;" in upstream.group(1)
    # Round robin: no sticky-session directive; and the Authorization header is never rewritten or dropped.
    assert not re.search(r"^\s*(ip_hash|hash|sticky|least_conn)\b", upstream.group(1), re.M)
    assert not re.search(r"proxy_set_header\s+Authorization", site, re.I)
    assert "listen 443 ssl;" in public


def test_the_idp_server_block_reaches_the_idp_service_at_the_issuers_host() -> None:
    issuer = urlsplit(settings_file()["CO_MCP_AUTH_ISSUER"])
    blocks = server_blocks(nginx_site())
    assert issuer.scheme == "https"
    assert "proxy_pass http://idp;" in locations(blocks[issuer.hostname or ""])["/"]
    assert re.search(r"upstream idp \{\s*server idp:8080;", nginx_site())
    assert compose()["services"]["idp"]["environment"]["KC_HOSTNAME"] == f"https://{issuer.hostname}"


def test_the_realm_issues_what_co_mcp_checks() -> None:
    """The Keycloak realm: the issuer co-mcp names, both scopes with aud = CO_MCP_PUBLIC_URL, a sub, a PKCE client."""
    realm = json.loads((TEAM / "realm.json").read_text(encoding="utf-8"))
    settings = settings_file()
    hostname = compose()["services"]["idp"]["environment"]["KC_HOSTNAME"]
    assert settings["CO_MCP_AUTH_ISSUER"] == f"{hostname}/realms/{realm['realm']}"
    scopes = {scope["name"]: scope for scope in realm["clientScopes"]}
    for name in (settings["CO_MCP_READ_SCOPE"], settings["CO_MCP_WRITE_SCOPE"]):
        assert scopes[name]["attributes"]["include.in.token.scope"] == "true"
        audiences = [
            mapper["config"]
            for mapper in scopes[name]["protocolMappers"]
            if mapper["protocolMapper"] == "oidc-audience-mapper"
        ]
        assert audiences == [{**audiences[0], "included.custom.audience": settings["CO_MCP_PUBLIC_URL"]}]
        assert audiences[0]["access.token.claim"] == "true"
    assert [mapper["protocolMapper"] for mapper in scopes["basic"]["protocolMappers"]] == ["oidc-sub-mapper"]
    clients = {client["clientId"]: client for client in realm["clients"]}
    # The link page's client: the ID token's sub proves who opened a link; it returns to /link/callback only.
    page = clients.pop(settings["CO_MCP_LINK_CLIENT_ID"])
    assert page["redirectUris"] == [settings["CO_MCP_PUBLIC_URL"].removesuffix("/mcp") + "/link/callback"]
    assert page["attributes"]["pkce.code.challenge.method"] == "S256"
    assert "basic" in page["defaultClientScopes"]
    (client,) = clients.values()
    assert client["publicClient"] is True
    assert client["attributes"]["pkce.code.challenge.method"] == "S256"
    assert (client["standardFlowEnabled"], client["directAccessGrantsEnabled"]) == (True, False)
    assert set(client["optionalClientScopes"]) == {READ_SCOPE, WRITE_SCOPE}
    assert "basic" in client["defaultClientScopes"]


def readme_commands() -> list[list[str]]:
    """The co-mcp commands the example's README runs in the compose project."""
    readme = (TEAM / "README.md").read_text(encoding="utf-8")
    found = []
    for line in re.findall(r"^(docker compose -f config-examples/team/compose\.yaml (?:exec|run)\b.*)$", readme, re.M):
        argv = shlex.split(line.split(" < ")[0].split(" | ")[0])
        found.append(argv[argv.index("co-mcp", argv.index("co-mcp") + 1) :])
    return found


def test_the_readmes_co_mcp_commands_are_ones_co_mcp_takes() -> None:
    commands = readme_commands()
    assert ["co-mcp", "credentials", "link", "alice"] in commands
    assert ["co-mcp", "credentials", "new-key"] in commands
    for argv in commands:
        build_parser().parse_args(argv[1:])  # SystemExit (argparse's usage error) fails the test


# --- the deployment runs --------------------------------------------------------------------------------------------


def nginx_path() -> str | None:
    """nginx, on PATH or where Debian's package puts it (/usr/sbin, often not on a user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def require_nginx() -> str:
    """nginx's path; skips without it (fails under CI=true: .ci/run installs it)."""
    nginx = nginx_path()
    if nginx is None or shutil.which("openssl") is None:
        reason = (
            "nginx or openssl is not installed, so the team example's nginx.conf cannot run (apt-get install nginx)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return nginx


def wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listened on {port} within 60 s: {log.read_text()}"
            time.sleep(0.1)


@contextmanager
def started(argv: list[str], env: dict[str, str] | None, port: int, log: Path) -> Iterator[None]:
    with log.open("w") as sink:
        process = subprocess.Popen(argv, env=env, stdout=sink, stderr=sink)
    try:
        wait_listening(port, process, log)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def worker_command(port: int) -> list[str]:
    """compose.yaml's worker command, bound to 127.0.0.1 and ``port`` (the service's 0.0.0.0:8000 inside compose)."""
    command = list(compose()["services"]["co-mcp"]["command"])
    assert command[0] == "co-mcp"
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    return [str(CO_MCP), *command[1:]]


def local_site(site: str, *, workers: list[int], idp: str, port: int, certs: Path) -> str:
    """nginx.conf with compose's names swapped for this machine's addresses; TLS dropped (no name resolves to us)."""
    upstream = "\n    ".join(f"server 127.0.0.1:{worker};" for worker in workers)
    for old, new in (
        ("server co-mcp:8000;", upstream),  # the replicas compose's DNS would list
        ("server idp:8080;", f"server {idp};"),  # the test provider stands in for Keycloak
        ("listen 443 ssl", f"listen 127.0.0.1:{port}"),  # plain HTTP on a free port
        ("server_name mcp.example.org;", "server_name 127.0.0.1;"),  # the public name, here
        ("/etc/nginx/certs", str(certs)),
    ):
        assert old in site, old
        site = site.replace(old, new)
    return site


@contextmanager
def running_nginx(tmp_path: Path, **where: Any) -> Iterator[None]:
    nginx = require_nginx()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mcp.example.org",
         "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    (tmp_path / "site.conf").write_text(local_site(nginx_site(), certs=tmp_path, **where), encoding="utf-8")
    temp = "".join(
        f"  {kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\ndaemon off;\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp}  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    argv = [nginx, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    with started(argv, None, where["port"], tmp_path / "nginx.log"):
        yield


@dataclass
class Deployment:
    public: str  # CO_MCP_PUBLIC_URL: nginx's /mcp (the access tokens' audience)
    front: str  # where clients connect: nginx, or worker A when nginx is not installed here
    workers: list[str]  # each worker's own /mcp
    provider: Provider
    sandbox: Sandbox
    env: dict[str, str]
    logs: list[Path]

    def token(self, person: str) -> str:
        return self.provider.token(person, scopes=[READ_SCOPE, WRITE_SCOPE], resource=self.public)


def run_co_mcp(argv: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CO_MCP), *argv[1:]], input=stdin, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, postgres_url: str, oidc: Provider) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("team")
    sandbox = Sandbox(assets=40, seed=7, ready_delay=0.0)
    with ExitStack() as stack:
        codeocean = stack.enter_context(running(sandbox))
        front_port, ports = free_port(), [free_port(), free_port()]
        public = f"http://127.0.0.1:{front_port}/mcp"
        key = run_co_mcp(["co-mcp", "credentials", "new-key"], clean_env(tmp))
        assert key.returncode == 0, key.stderr
        # co-mcp.env as it is, but for what must differ on this machine: LOCAL.
        local = {
            "CODEOCEAN_DOMAIN": codeocean,  # the sandbox stands in for Code Ocean
            "CO_MCP_AUTH_ISSUER": oidc.issuer,  # the test provider stands in for idp
            "CO_MCP_PUBLIC_URL": public,  # nginx, on a free loopback port
            "CO_MCP_ALLOWED_HOSTS": "127.0.0.1",  # the public name, here
            "CO_MCP_STATE_URL": postgres_url,  # the throwaway PostgreSQL server stands in for db
            "CO_MCP_CREDENTIAL_KEY": key.stdout.strip(),  # made as the README says
            "CO_MCP_CONFIRM_SECRET": os.urandom(32).hex(),
            # realm.json's co-mcp-link, registered with the test provider for this public URL
            "CO_MCP_LINK_CLIENT_ID": oidc.register(f"http://127.0.0.1:{front_port}/link/callback"),
        }
        settings = settings_file()
        assert local.keys() <= settings.keys()
        env = clean_env(tmp) | settings | local
        logs = [tmp / f"worker-{index}.log" for index in range(len(ports))]
        for port, log in zip(ports, logs, strict=True):
            stack.enter_context(started(worker_command(port), env, port, log))
        workers = [f"http://127.0.0.1:{port}/mcp" for port in ports]
        front = workers[0]
        if nginx_path() is not None or os.environ.get("CI"):
            idp = urlsplit(oidc.issuer).netloc
            stack.enter_context(running_nginx(tmp, workers=ports, idp=idp, port=front_port))
            front = public
        yield Deployment(public, front, workers, oidc, sandbox, env, logs)


def readme_link(person: str) -> list[str]:
    """The README's ``co-mcp credentials link alice``, for ``person``."""
    command = next(argv for argv in readme_commands() if argv[:3] == ["co-mcp", "credentials", "link"])
    assert command[3] == "alice", command
    return [*command[:3], person, *command[4:]]


@pytest.mark.slow
async def test_a_person_linked_by_the_admin_command_searches_with_their_own_token(team: Deployment) -> None:
    linked = run_co_mcp(readme_link("alice"), team.env, stdin=team.sandbox.token_for("alice") + "\n")
    assert linked.returncode == 0, linked.stderr
    async with mcp_as(team.front, team.token("alice")) as alice:
        result = await alice.call_tool("search_data_assets", {"query": "rna", "limit": 2})
    assert not result.is_error, text(result)
    assert result.structured_content is not None
    assert result.structured_content["results"]
    searches = team.sandbox.request_log.matching(method="POST", path_prefix="/api/v1/data_assets/search")
    assert {entry.user for entry in searches} >= {team.sandbox.users["alice"].email}


@pytest.mark.slow
async def test_a_call_without_a_token_is_401_naming_the_metadata_which_names_the_issuer(team: Deployment) -> None:
    refused = await post_mcp(team.front, None, {"method": "tools/list", "params": {}})
    assert refused.status_code == 401
    found = re.search(r'resource_metadata="([^"]+)"', refused.headers["www-authenticate"])
    assert found is not None
    base = team.public.removesuffix("/mcp")
    assert found.group(1) == f"{base}/.well-known/oauth-protected-resource/mcp"
    async with httpx2.AsyncClient() as http:
        metadata = await http.get(found.group(1).replace(base, team.front.removesuffix("/mcp")))
    assert metadata.status_code == 200
    assert metadata.json()["authorization_servers"] == [team.provider.issuer]
    assert metadata.json()["resource"] == team.public


@pytest.mark.slow
async def test_a_person_links_their_token_on_the_page_through_nginx(team: Deployment) -> None:
    require_nginx()
    async with mcp_as(team.front, team.token("bob")) as bob:
        try:
            said = text(await bob.call_tool("search_data_assets", {"limit": 1}))
        except MCPError as exc:
            said = exc.error.message
    found = re.search(r"(http://\S+/link\?ticket=\S+)", said)
    assert found is not None, said
    page = found.group(1)
    assert page.startswith(team.public.removesuffix("/mcp") + "/link?")
    browser, form = await anyio.to_thread.run_sync(open_link, page, team.provider, "bob")
    try:
        assert form.status_code == 200, form.text
        done = browser.post(page.split("?")[0], data={"proof": proof_of(form), "token": team.sandbox.token_for("bob")})
        assert done.status_code == 200, done.text
    finally:
        browser.close()
    async with mcp_as(team.front, team.token("bob")) as bob:
        result = await bob.call_tool("search_data_assets", {"limit": 1})
    assert not result.is_error, text(result)


@pytest.mark.slow
async def test_a_confirmation_previewed_by_one_worker_acts_once_through_another(team: Deployment) -> None:
    linked = run_co_mcp(readme_link("carol"), team.env, stdin=team.sandbox.token_for("alice") + "\n")
    assert linked.returncode == 0, linked.stderr
    token = team.token("carol")
    arguments = {"data_asset_ids": [DEMO_DATASET_ID]}
    worker_a, worker_b = team.workers
    async with mcp_as(worker_a, token) as carol:
        preview = await carol.call_tool("archive_data_asset", arguments)
    assert preview.structured_content is not None, text(preview)
    confirm = {**arguments, "confirm_token": preview.structured_content["confirm_token"]}
    assert not team.sandbox.request_log.matching(method="PATCH")
    async with mcp_as(worker_b, token) as carol:
        done = await carol.call_tool("archive_data_asset", confirm)
    assert not done.is_error, text(done)
    async with mcp_as(worker_a, token) as carol:
        again = await carol.call_tool("archive_data_asset", confirm)
    assert "nothing was done again" in text(again)  # worker A found worker B's record in the shared database
    assert len(team.sandbox.request_log.matching(method="PATCH")) == 1
    audited = [json.loads(line) for log in team.logs for line in log.read_text().splitlines() if line.startswith("{")]
    assert {(line["subject"], line["issuer"]) for line in audited if line.get("tool") == "archive_data_asset"} == {
        ("carol", team.provider.issuer)
    }
