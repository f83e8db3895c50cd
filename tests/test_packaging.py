"""Packaging: ``python -m build`` makes a wheel and an sdist, and the wheel works in a fresh venv and under uvx."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from co_mcp import __version__

pytestmark = [pytest.mark.packaging, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
BIN = "Scripts" if sys.platform == "win32" else "bin"

# Runs inside the fresh venv, with the mcp the wheel's dependencies brought in: a short sandbox session.
SESSION = """
import sys
import anyio
from mcp import Client, StdioServerParameters

async def main() -> None:
    params = StdioServerParameters(command=sys.argv[1], args=["--sandbox"])
    async with Client(params, read_timeout_seconds=60) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        found = await client.call_tool("search_data_assets", {"query": "rna", "limit": 2})
    print(len(tools), "search_data_assets" in tools, found.is_error, len((found.structured_content or {})["results"]))

anyio.run(main)
"""


def run(command: list[str], *, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    output = f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert done.returncode == 0, f"{command[:4]} exited {done.returncode}:\n{output}"
    return done


def clean_env() -> dict[str, str]:
    # No settings of the developer's own, and no venv of theirs leaking in.
    return {k: v for k, v in os.environ.items() if not k.startswith(("CODEOCEAN_", "CO_MCP_", "VIRTUAL_ENV"))}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], timeout=300)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    return dist / f"co_mcp-{__version__}-py3-none-any.whl"


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the wheel installed (its dependencies from the package index)."""
    path = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", str(path)], timeout=120)
    run([str(path / BIN / "python"), "-m", "pip", "install", "--quiet", str(wheel)], timeout=400, env=clean_env())
    return path


def test_build_makes_a_wheel_and_an_sdist(dist: Path) -> None:
    assert sorted(path.name for path in dist.iterdir()) == [
        f"co_mcp-{__version__}-py3-none-any.whl",
        f"co_mcp-{__version__}.tar.gz",
    ]


def test_the_wheel_carries_the_package_its_type_marker_and_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(f"co_mcp-{__version__}.dist-info/entry_points.txt").decode()
    assert {"co_mcp/py.typed", "co_mcp/doctor.py", "co_mcp/sandbox/__init__.py"} <= names
    assert "co-mcp = co_mcp.cli:main" in entry_points


def test_the_sdist_carries_the_tests_and_the_config_examples(dist: Path) -> None:
    with tarfile.open(dist / f"co_mcp-{__version__}.tar.gz") as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"tests/test_config_examples.py", "config-examples/agent_pipeline.py", "README.md"} <= names


def test_the_installed_command_reports_the_package_version(venv: Path) -> None:
    done = run([str(venv / BIN / "co-mcp"), "--version"], timeout=60, env=clean_env())
    assert done.stdout.strip() == f"co-mcp {__version__}"


def test_the_installed_command_serves_a_sandbox_session(venv: Path) -> None:
    done = run([str(venv / BIN / "python"), "-c", SESSION, str(venv / BIN / "co-mcp")], timeout=180, env=clean_env())
    count, has_search, is_error, hits = done.stdout.split()
    assert int(count) >= 10
    assert (has_search, is_error, hits) == ("True", "False", "2")


def uv_binary(venv: Path) -> Path:
    """uv from the test extras; failing that, installed into the fresh venv from the package index."""
    try:
        from uv import find_uv_bin

        return Path(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    done = subprocess.run(
        [str(venv / BIN / "python"), "-m", "pip", "install", "--quiet", "uv"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"uv could not be installed from the package index: {done.stderr.strip()[-300:]}")
    return venv / BIN / "uv"


def test_uvx_runs_the_wheel(wheel: Path, venv: Path, tmp_path: Path) -> None:
    uv = uv_binary(venv)
    uvx = uv.with_name("uvx" + uv.suffix)
    command = [str(uvx)] if uvx.exists() else [str(uv), "tool", "run"]
    env = clean_env() | {
        # This interpreter, never a download: uv would otherwise fetch a managed Python it cannot reach.
        "UV_PYTHON": sys.executable,
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_TOOL_DIR": str(tmp_path / "tools"),
    }
    done = run([*command, "--from", str(wheel), "co-mcp", "--help"], timeout=300, env=env)
    assert done.stdout.startswith("usage: co-mcp")
    assert "doctor" in done.stdout
