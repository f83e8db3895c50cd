"""The benchmarks still run: each in its smallest form, printing its figures, writing nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.bench, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("script", "arguments", "figures"),
    [
        ("bench_sandbox.py", ["--sizes", "500", "--queries", "5"], ["search p50", "peak growth"]),
        ("bench_server.py", ["--pairs", "1"], ["cold start", "tools/list"]),
        ("bench_pool.py", ["--pairs", "1"], ["Client CPU per call"]),
        ("bench_bytes.py", ["--no-official"], ["structured only", "tool definitions", "Facts per search hit"]),
        # Without the official server: no PyPI install in the default test run.
        (
            "bench_official.py",
            ["--pairs", "1", "--no-official"],
            ["cold start", "32 concurrent gets", "2026-07-28 client", "Not serialised"],
        ),
    ],
)
def test_benchmark_runs_and_prints_its_figures(script: str, arguments: list[str], figures: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *arguments, "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for figure in figures:
        assert figure in done.stdout
