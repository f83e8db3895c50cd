"""Reproduce bench/RESULTS.md in one command: every benchmark, each writing its own section.

    python bench/run.py

Needs registry access once, for the official codeocean-mcp-server (cached under bench/.cache). Takes
about ten minutes on a 2-core machine; run it on an otherwise idle one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ["bench_sandbox.py", "bench_server.py", "bench_official.py", "bench_bytes.py", "bench_pool.py"]


def main() -> int:
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        done = subprocess.run([sys.executable, str(BENCH / script)], cwd=BENCH.parent, check=False)
        if done.returncode:
            print(f"{script} failed with status {done.returncode}", file=sys.stderr)
            return done.returncode
    print(f"== wrote {BENCH / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
