"""The sandbox is a room of its own: it imports nothing from the client side, checked two ways.

Statically, every import in every module of ``co_mcp/sandbox/`` (at the top, under ``TYPE_CHECKING``, inside a
function) names the standard library, a third-party package on ``THIRD_PARTY``, or ``co_mcp.sandbox`` itself.
Dynamically, a fresh interpreter imports the sandbox, serves it over loopback and answers requests that reach
every part of the app, and then holds none of the client side's modules.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import co_mcp.sandbox

SANDBOX = Path(co_mcp.sandbox.__file__).parent
MODULES = sorted(SANDBOX.rglob("*.py"))

# Third-party packages the sandbox may use: what an ASGI emulator of a REST API needs, and none of the client's.
THIRD_PARTY = frozenset({"anyio", "pydantic", "pydantic_core", "starlette", "uvicorn"})
# co_mcp modules outside the sandbox it may share. None today; a plain text helper (co_mcp.text) would be the
# only kind allowed, never co_mcp.api, co_mcp.tools, the MCP server or anything that imports them.
SHARED: frozenset[str] = frozenset()
# What must never be loaded with the sandbox: the client side, and the libraries only the client side uses.
CLIENT_SIDE = ("co_mcp.api", "co_mcp.tools", "co_mcp.server", "co_mcp.render", "httpx2", "httpcore2", "mcp")


def module_name(path: Path) -> str:
    parts = path.relative_to(SANDBOX.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved, including dynamic ones named by a constant."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            # ``from co_mcp import api`` imports co_mcp.api: each name may be a module of the package.
            names += [target] + [f"{target}.{alias.name}" for alias in node.names if target.startswith("co_mcp")]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func):
            argument = node.args[0] if node.args else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                names.append(argument.value)
            else:
                names.append("<a name computed at run time>")
    return names


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in {"__import__", "import_module"}
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def allowed(name: str) -> bool:
    top = name.partition(".")[0]
    if top == "co_mcp":
        return name == "co_mcp" or name.startswith("co_mcp.sandbox") or name in SHARED
    return top in sys.stdlib_module_names or top in THIRD_PARTY


def test_every_module_of_the_sandbox_is_checked() -> None:
    assert SANDBOX / "__init__.py" in MODULES
    assert SANDBOX / "faults.py" in MODULES
    assert len(MODULES) >= 10


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(SANDBOX)))
def test_a_sandbox_module_imports_only_the_stdlib_its_packages_and_the_sandbox(path: Path) -> None:
    outside = sorted({name for name in imported_names(path) if not allowed(name)})
    assert outside == [], f"{module_name(path)} imports {', '.join(outside)}: the sandbox never imports the client side"


# Run in a fresh interpreter: builds and serves a sandbox, asks it for something from every part of the app
# (search, one asset, permissions, files and their signed links, metadata schema, a write, an injected fault),
# then prints the client-side modules it has loaded.
PROBE = """
import base64, json, sys, urllib.error, urllib.request

from co_mcp.sandbox import DEFAULT_TOKEN, Sandbox
from co_mcp.sandbox.server import running

AUTH = "Basic " + base64.b64encode(f"{DEFAULT_TOKEN}:".encode()).decode()


def call(url, method="GET", body=None, auth=True):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if auth:
        request.add_header("Authorization", AUTH)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload.startswith((b"{", b"[")) else payload


sandbox = Sandbox(assets=20, seed=1, faults="script:503@get")
with running(sandbox) as url:
    api = url + "/api/v1"
    found = call(api + "/data_assets/search", "POST", {"limit": 20, "ownership": "created"})["results"]
    internal = next(a for a in found if a["state"] == "ready" and not (a.get("source_bucket") or {}).get("external"))
    try:
        call(api + "/data_assets/" + internal["id"])
        raise SystemExit("the scripted 503 was not injected")
    except urllib.error.HTTPError as error:
        assert error.code == 503, error.code
    call(api + "/data_assets/" + internal["id"])
    call(api + "/data_assets/" + internal["id"] + "/permissions")
    call(api + "/custom_metadata")
    items = call(api + "/data_assets/" + internal["id"] + "/files", "POST", {"path": ""})["items"]
    file = next(item for item in items if item["type"] == "file")
    urls = call(api + "/data_assets/" + internal["id"] + "/files/urls?path=" + file["path"])
    call(urls["view_url"], auth=False)
    call(api + "/data_assets/" + internal["id"], "PUT", {"description": "checked by the boundary test"})

loaded = sorted(
    name for name in sys.modules
    if any(name == side or name.startswith(side + ".") for side in json.loads(sys.argv[1]))
)
print(json.dumps(loaded))
"""


@pytest.mark.slow
@pytest.mark.loopback
def test_a_served_sandbox_loads_nothing_of_the_client_side() -> None:
    done = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, json.dumps(CLIENT_SIDE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
