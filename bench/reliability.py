"""The one command behind the README's reliability figures (issue F).

    python bench/reliability.py              # full sizes; writes README.md and bench/RESULTS.md
    python bench/reliability.py --no-write   # the same run, figures printed only

Runs ``pytest -m reliability`` with ``CO_MCP_RELIABILITY_FULL=1`` (every reliability and security
suite at the sizes the README quotes), streams its output, and collects every line starting with
``FIGURE `` (``tests/reliability/figures.py`` prints them past pytest's capture). If every test passed,
the figures go into README.md between ``<!-- reliability:start -->`` and ``<!-- reliability:end -->``
(the section "Reliability and security", created right after "Reliability" if missing; the section is
made by ``tests/reliability/figures.py``), with this command and the date, and the load figures into
bench/RESULTS.md. A failed run writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PYTEST = ["-m", "pytest", "-m", "reliability", "-q", "-rfE", "tests"]
BUDGET = 15 * 60  # seconds; the target is under 10 minutes on 2 cores


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.machine()}"


def run_suites(extra: list[str]) -> tuple[int, list[str], float]:
    """Run the suites at full size, echoing their output; (exit status, output lines, seconds)."""
    env = {**os.environ, "CO_MCP_RELIABILITY_FULL": "1"}
    command = [sys.executable, *PYTEST, *extra]
    print(f"$ CO_MCP_RELIABILITY_FULL=1 {' '.join(['python', *command[1:]])}", flush=True)
    started = time.monotonic()
    output: list[str] = []
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:  # ends when pytest closes its output
            print(line, end="", flush=True)
            output.append(line.rstrip("\n"))
            if time.monotonic() - started > BUDGET:
                proc.kill()
                print(f"\nstopped: over the {BUDGET // 60}-minute budget", flush=True)
                break
        status = proc.wait()
    return status, output, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the figures; leave README and RESULTS alone")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (e.g. -k faults), after --")
    args = parser.parse_args()
    from tests.reliability.figures import COMMAND, parse, place, section

    status, output, seconds = run_suites(args.pytest_args)
    figures = parse(output)
    print(f"\n{len(figures)} figure lines in {seconds / 60:.1f} minutes (pytest exit status {status})")
    if status != 0 or not figures:
        print("not writing: the run failed or printed no figures", file=sys.stderr)
        return status or 1
    if args.no_write:
        return 0
    date = dt.date.today().isoformat()
    body = section(figures, date=date, minutes=seconds / 60, machine=machine())
    README.write_text(place(README.read_text(encoding="utf-8"), body), encoding="utf-8")
    print(f"wrote {README.relative_to(ROOT)}")
    load = [f for f in figures if f.suite == "load"]
    if load:
        from bench.bench_load import report
        from bench.bench_sandbox import write_section

        write_section(report(dict(load[-1].values), command=COMMAND, date=date))
        print("wrote bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
