"""The benchmarks still run: each in its smallest form, printing figures, writing nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_sandbox_benchmark_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_sandbox.py", "--sizes", "500", "--queries", "5", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "search p50" in done.stdout
    assert "peak growth" in done.stdout


@pytest.mark.slow
def test_server_benchmark_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_server.py", "--pairs", "1", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cold start" in done.stdout
    assert "tools/list" in done.stdout


@pytest.mark.slow
def test_comparison_benchmark_runs_without_the_official_server() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_official.py", "--pairs", "1", "--no-official", "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "cold start" in done.stdout
    assert "32 concurrent gets" in done.stdout
