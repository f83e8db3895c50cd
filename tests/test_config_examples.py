"""config-examples/: every file parses, and every command an example names runs for real, so none rots."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from co_mcp.doctor import diagnose
from co_mcp.sandbox import Sandbox
from co_mcp.sandbox.server import running
from tests.support import clear_settings

pytestmark = [pytest.mark.anyio, pytest.mark.examples]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "config-examples"
HTTP = EXAMPLES / "http"
# The console script of the co_mcp under test, whatever co-mcp may be on PATH.
CO_MCP = Path(sys.executable).parent / "co-mcp"
MARKDOWN = [ROOT / "README.md", EXAMPLES / "README.md"]


@dataclass(frozen=True)
class Entry:
    """One server an example configures: stdio (command) or HTTP (url)."""

    source: str
    name: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.source}:{self.name}"


def entries_of(source: str, document: dict[str, Any]) -> list[Entry]:
    """Claude Desktop and Cursor say ``mcpServers``; VS Code says ``servers`` (and ``type`` on each)."""
    servers = document.get("mcpServers", document.get("servers"))
    assert isinstance(servers, dict), f"{source}: no mcpServers or servers"
    assert servers, f"{source}: no servers configured"
    found = []
    for name, spec in servers.items():
        if "url" in spec:
            found.append(Entry(source, name, url=spec["url"], headers=spec.get("headers", {})))
        else:
            found.append(Entry(source, name, spec["command"], list(spec.get("args", [])), dict(spec.get("env", {}))))
    return found


def json_in_markdown(path: Path) -> list[str]:
    """Fenced ```json blocks, and inline `{"mcpServers": ...}` spans."""
    text = path.read_text(encoding="utf-8")
    return re.findall(r"```json\n(.*?)```", text, re.S) + re.findall(r'`(\{"mcpServers".*?\})`', text)


def json_documents() -> list[tuple[str, str]]:
    docs = [(path.name, path.read_text(encoding="utf-8")) for path in sorted(EXAMPLES.glob("*.json"))]
    for path in MARKDOWN:
        docs += [(f"{path.relative_to(ROOT)}#{i}", block) for i, block in enumerate(json_in_markdown(path))]
    return docs


def config_entries() -> list[Entry]:
    found: list[Entry] = []
    for source, text in json_documents():
        document = json.loads(text)
        if "mcpServers" in document or "servers" in document:
            found += entries_of(source, document)
    return found


STDIO = [entry for entry in config_entries() if entry.command is not None]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_"))}
    env["PATH"] = f"{CO_MCP.parent}{os.pathsep}{env.get('PATH', '')}"
    env["CO_MCP_AUDIT_LOG"] = str(tmp_path / "audit.jsonl")
    return env


@contextmanager
def loopback_sandbox() -> Iterator[tuple[Sandbox, str]]:
    """A sandbox over loopback HTTP, standing in for a real Code Ocean deployment."""
    sandbox = Sandbox(assets=40, seed=7, ready_delay=0.0)
    with running(sandbox) as url:
        yield sandbox, url


def resolve(value: str, inputs: dict[str, str], env: dict[str, str]) -> str:
    """Expand the clients' placeholders: VS Code's ${input:id} and Cursor's ${env:NAME}."""
    value = re.sub(r"\$\{input:([^}]+)\}", lambda m: inputs[m.group(1)], value)
    return re.sub(r"\$\{env:([^}]+)\}", lambda m: env[m.group(1)], value)


async def run_stdio(entry: Entry, tmp_path: Path) -> list[str]:
    """Start the entry's server as its client would, with a real account's settings aimed at the sandbox."""
    assert entry.command == "co-mcp", f"{entry}: examples use the co-mcp command"
    env = clean_env(tmp_path)
    with loopback_sandbox() as (sandbox, url):
        real = {"CODEOCEAN_DOMAIN": url, "CODEOCEAN_TOKEN": sandbox.token_for("alice")}
        env.update(real)  # what ${env:...} reads
        server_env = {
            name: resolve(value, {"codeocean-token": real["CODEOCEAN_TOKEN"]}, env) for name, value in entry.env.items()
        }
        if "CODEOCEAN_DOMAIN" in server_env:
            server_env.update(real)  # the example's placeholder domain and token, swapped for the sandbox's
        params = StdioServerParameters(command=str(CO_MCP), args=entry.args, env={**env, **server_env})
        async with Client(params, read_timeout_seconds=60) as client:
            names = [tool.name for tool in (await client.list_tools()).tools]
            result = await client.call_tool("search_data_assets", {"limit": 1})
        assert not result.is_error, result.content
        if "--sandbox" not in entry.args:
            assert sandbox.request_log.matching(method="POST", path_prefix="/api/v1/data_assets/search")
    return names


# --- the JSON files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("source", "text"), json_documents(), ids=[source for source, _ in json_documents()])
def test_every_json_example_parses(source: str, text: str) -> None:
    assert isinstance(json.loads(text), dict)


def test_every_client_has_an_example() -> None:
    sources = {entry.source for entry in config_entries()}
    assert {
        "claude_desktop_config.json",
        "claude_desktop_config.sandbox.json",
        "cursor-mcp.json",
        "vscode-mcp.json",
    } <= sources


def test_vscode_secrets_are_password_prompts() -> None:
    document = json.loads((EXAMPLES / "vscode-mcp.json").read_text(encoding="utf-8"))
    declared = {item["id"]: item for item in document["inputs"]}
    used = set(re.findall(r"\$\{input:([^}]+)\}", json.dumps(document["servers"])))
    assert used == {"codeocean-token", "co-mcp-http-token"}
    assert all(declared[name]["type"] == "promptString" and declared[name]["password"] is True for name in used)


@pytest.mark.parametrize("name", ["cursor-mcp.json", "vscode-mcp.json"])
def test_project_level_configs_hold_no_token(name: str) -> None:
    # These files live in a repository (.cursor/, .vscode/), so a token must come from elsewhere.
    for entry in entries_of(name, json.loads((EXAMPLES / name).read_text(encoding="utf-8"))):
        token = entry.env.get("CODEOCEAN_TOKEN")
        assert token is None or token.startswith("${"), entry


@pytest.mark.slow
@pytest.mark.parametrize("entry", STDIO, ids=str)
async def test_every_stdio_server_in_a_json_example_runs(entry: Entry, tmp_path: Path) -> None:
    names = await run_stdio(entry, tmp_path)
    assert "search_data_assets" in names


# --- Claude Code ---------------------------------------------------------------------------------------

# claude's -e and -H take several values each (commander's variadic options): they stop only at the next
# option, so a server name written after them would be read as one more value.
VARIADIC = {"-e", "--env", "-H", "--header"}
WITH_VALUE = {"-s", "--scope", "-t", "--transport"}


def parse_mcp_add(argv: list[str]) -> Entry:
    """Read ``claude mcp add`` arguments the way Claude Code's parser does."""
    assert argv[:2] == ["mcp", "add"], argv
    rest, positional, env, headers, options = argv[2:], [], {}, {}, {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--":
            positional += rest[i + 1 :]
            break
        if arg in VARIADIC:
            i += 1
            while i < len(rest) and not rest[i].startswith("-"):
                if arg in ("-e", "--env"):
                    key, sep, value = rest[i].partition("=")
                    assert sep, f"claude would refuse {rest[i]!r} as an environment variable: put the name first"
                    env[key] = value
                else:
                    key, _, value = rest[i].partition(":")
                    headers[key] = value.strip()
                i += 1
            continue
        if arg in WITH_VALUE:
            options[arg.lstrip("-")[0]] = rest[i + 1]
            i += 2
            continue
        assert not arg.startswith("-"), f"unexpected option {arg}"
        positional.append(arg)
        i += 1
    name, target, *args = positional
    if options.get("t") == "http":
        return Entry("claude-code.sh", name, url=target, headers=headers)
    return Entry("claude-code.sh", name, target, args, env)


def run_claude_code_script(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(EXAMPLES / "claude-code.sh")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def registered_servers(tmp_path: Path, env: dict[str, str]) -> list[Entry]:
    """Run claude-code.sh; with Claude Code installed, for real (in a scratch HOME), else with a recorder."""
    env = {**env, "HOME": str(tmp_path)}
    if shutil.which("claude", path=env["PATH"]) is None:
        recorder = tmp_path / "bin" / "claude"
        recorder.parent.mkdir()
        recorder.write_text(
            f"#!{sys.executable}\nimport json, os, sys\n"
            "with open(os.environ['CLAUDE_ARGV_LOG'], 'a') as log:\n"
            "    log.write(json.dumps(sys.argv[1:]) + '\\n')\n",
            encoding="utf-8",
        )
        recorder.chmod(recorder.stat().st_mode | stat.S_IXUSR)
        log = tmp_path / "argv.jsonl"
        env |= {"PATH": f"{recorder.parent}{os.pathsep}{env['PATH']}", "CLAUDE_ARGV_LOG": str(log)}
        done = run_claude_code_script(tmp_path, env)
        assert done.returncode == 0, done.stderr
        return [parse_mcp_add(json.loads(line)) for line in log.read_text(encoding="utf-8").splitlines()]
    done = run_claude_code_script(tmp_path, env)
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / ".claude.json").read_text(encoding="utf-8"))
    servers = {**config.get("mcpServers", {})}
    for project in config.get("projects", {}).values():
        servers |= project.get("mcpServers", {})
    return entries_of("claude-code.sh", {"mcpServers": servers})


@pytest.mark.slow
async def test_claude_code_script_registers_servers_that_run(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    env |= {"CODEOCEAN_DOMAIN": "https://codeocean.example.com", "CODEOCEAN_TOKEN": "cop_example"}
    entries = {entry.name: entry for entry in registered_servers(tmp_path, env)}
    assert entries.keys() == {"codeocean", "codeocean-sandbox"}
    assert entries["codeocean"].env == {
        "CODEOCEAN_DOMAIN": "https://codeocean.example.com",
        "CODEOCEAN_TOKEN": "cop_example",
    }
    for entry in entries.values():
        assert "search_data_assets" in await run_stdio(entry, tmp_path)


@pytest.mark.slow
def test_claude_code_script_stops_with_a_hint_when_the_variables_are_missing(tmp_path: Path) -> None:
    env = clean_env(tmp_path) | {"HOME": str(tmp_path), "PATH": f"{tmp_path}{os.pathsep}{clean_env(tmp_path)['PATH']}"}
    (tmp_path / "claude").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (tmp_path / "claude").chmod(0o755)
    done = run_claude_code_script(tmp_path, env)
    assert done.returncode != 0
    assert "export CODEOCEAN_DOMAIN=https://codeocean.example.com first" in done.stderr


def test_the_commented_http_registration_parses_as_claude_would_read_it() -> None:
    script = (EXAMPLES / "claude-code.sh").read_text(encoding="utf-8")
    block = re.search(r"#\s+(claude mcp add codeocean-team .*?)\n(?!#\s{3,})", script, re.S)
    assert block is not None
    command = re.sub(r"\\\n#\s+", "", block.group(1)).replace("$CO_MCP_HTTP_TOKEN", "t0ken")
    entry = parse_mcp_add(shlex.split(command)[1:])
    assert (entry.url, entry.headers) == ("https://mcp.example.org/mcp", {"Authorization": "Bearer t0ken"})


@pytest.mark.slow
def test_claude_mcp_add_takes_the_options_the_script_uses() -> None:
    claude = shutil.which("claude")
    if claude is None:
        pytest.skip("Claude Code (the claude command) is not installed; the script ran against a recorder instead")
    done = subprocess.run([claude, "mcp", "add", "--help"], capture_output=True, text=True, timeout=60, check=True)
    for option in ("--scope", "--env", "--transport", "--header"):
        assert option in done.stdout


# --- the HTTP deployment ---------------------------------------------------------------------------------


def env_file(path: Path) -> dict[str, str]:
    pairs = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: {line!r} is not KEY=value"
            pairs[key.strip()] = value.strip()
    return pairs


def compose() -> dict[str, Any]:
    document = yaml.safe_load((HTTP / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_the_compose_file_wires_workers_nginx_and_the_shared_settings() -> None:
    services = compose()["services"]
    worker, nginx = services["co-mcp"], services["nginx"]
    assert worker["command"][:3] == ["co-mcp", "--transport", "http"]
    assert worker["deploy"]["replicas"] > 1
    assert (HTTP / worker["env_file"]).is_file()
    mounted = [volume.split(":")[0] for volume in nginx["volumes"]]
    assert (HTTP / mounted[0]).is_file()
    assert "server co-mcp:8000;" in (HTTP / "nginx.conf").read_text(encoding="utf-8")


def test_the_shared_env_sets_what_a_deployment_needs() -> None:
    settings = env_file(HTTP / "co-mcp.env")
    assert {"CO_MCP_HTTP_TOKEN", "CO_MCP_CONFIRM_SECRET", "CO_MCP_ALLOWED_HOSTS"} <= settings.keys()
    assert settings["CO_MCP_ALLOWED_HOSTS"] == "mcp.example.org"
    assert "server_name mcp.example.org;" in (HTTP / "nginx.conf").read_text(encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_worker(tmp_path: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """The compose file's worker command, on 127.0.0.1 and a free port, with --sandbox; yields /mcp's URL."""
    command = list(compose()["services"]["co-mcp"]["command"])
    port = free_port()
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port)
    env = clean_env(tmp_path) | env_file(HTTP / "co-mcp.env") | extra_env
    with (tmp_path / "worker.log").open("w") as log:
        worker = subprocess.Popen([str(CO_MCP), "--sandbox", *command[1:]], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the worker did not start listening within 60 s"
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=15)


@pytest.mark.slow
async def test_a_worker_serves_a_tool_to_a_client_sending_the_examples_bearer_token(tmp_path: Path) -> None:
    shared = env_file(HTTP / "co-mcp.env")
    team = next(entry for entry in config_entries() if entry.name == "codeocean-team")
    headers = {
        name: resolve(value, {"co-mcp-http-token": shared["CO_MCP_HTTP_TOKEN"]}, {})
        for name, value in team.headers.items()
    }
    with http_worker(tmp_path, {}) as url:
        async with httpx2.AsyncClient() as plain:
            refused = await plain.post(url, json={}, headers={"Accept": "application/json, text/event-stream"})
        http = httpx2.AsyncClient(headers=headers, timeout=60)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            result = await client.call_tool("search_data_assets", {"query": "rna", "limit": 2})
    assert refused.status_code == 401
    assert not result.is_error
    assert result.structured_content is not None
    assert len(result.structured_content["results"]) == 2


async def test_the_doctor_passes_the_deployments_shared_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_settings(monkeypatch)
    for name, value in env_file(HTTP / "co-mcp.env").items():
        monkeypatch.setenv(name, value)
    with loopback_sandbox() as (sandbox, url):
        monkeypatch.setenv("CODEOCEAN_DOMAIN", url)
        monkeypatch.setenv("CODEOCEAN_TOKEN", sandbox.token_for("alice"))
        checks = await diagnose()
    assert [(check.name, check.status) for check in checks if check.status != "ok"] == []
    assert "http" in {check.name for check in checks}


@pytest.mark.slow
def test_the_nginx_config_is_valid(tmp_path: Path) -> None:
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    if nginx is None or openssl is None:
        pytest.skip("nginx or openssl is not installed, so nginx.conf cannot be checked with nginx -t")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mcp.example.org",
         "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem")],
        capture_output=True, timeout=60, check=True,
    )  # fmt: skip
    # Outside compose the service name does not resolve, the certificates live here, and 443 needs root.
    site = (HTTP / "nginx.conf").read_text(encoding="utf-8")
    site = site.replace("server co-mcp:8000;", "server 127.0.0.1:8000;").replace("/etc/nginx/certs", str(tmp_path))
    site = site.replace("listen 443", f"listen 127.0.0.1:{free_port()}")
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


# --- the agent pipeline ------------------------------------------------------------------------------------


def run_pipeline(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / "agent_pipeline.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.mark.slow
def test_the_agent_pipeline_searches_gets_and_creates_in_the_sandbox(tmp_path: Path) -> None:
    done = run_pipeline(clean_env(tmp_path))
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Connected to co-mcp (the sandbox)." in done.stdout
    assert [line for line in done.stdout.splitlines() if line.startswith("-> ")] == [
        "-> search_data_assets",
        "-> get_data_asset",
        "-> create_data_asset",
    ]
    assert re.search(r"New data asset [0-9a-f-]{36}: ready", done.stdout)


@pytest.mark.slow
def test_the_agent_pipeline_uses_a_real_deployment_when_configured(tmp_path: Path) -> None:
    with loopback_sandbox() as (sandbox, url):
        env = clean_env(tmp_path) | {
            "CODEOCEAN_DOMAIN": url,
            "CODEOCEAN_TOKEN": sandbox.token_for("alice"),
            "PIPELINE_S3_BUCKET": "lab-imports",
            "PIPELINE_S3_PREFIX": "run-42",
        }
        done = run_pipeline(env)
        created = [asset for asset in sandbox.store.all_assets() if "co-mcp-pipeline" in asset.tags]
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Connected to co-mcp (your Code Ocean)." in done.stdout
    assert [asset.name for asset in created] == ["Pipeline import of s3://lab-imports/run-42"]


@pytest.mark.slow
def test_the_agent_pipeline_creates_nothing_on_a_real_deployment_without_a_bucket(tmp_path: Path) -> None:
    with loopback_sandbox() as (sandbox, url):
        before = len(sandbox.store.all_assets())
        env = clean_env(tmp_path) | {"CODEOCEAN_DOMAIN": url, "CODEOCEAN_TOKEN": sandbox.token_for("alice")}
        done = run_pipeline(env)
        after = len(sandbox.store.all_assets())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Not creating anything: set PIPELINE_S3_BUCKET" in done.stdout
    assert after == before
