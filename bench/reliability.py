"""The one command behind the README's reliability figures (issue F).

    python bench/reliability.py              # full sizes; writes README.md and bench/RESULTS.md
    python bench/reliability.py --no-write   # the same run, figures printed only

Runs ``pytest -m reliability`` with ``CO_MCP_RELIABILITY_FULL=1`` (every reliability and security
suite at the sizes the README quotes), streams its output, and collects every line starting with
``FIGURE `` (``tests/reliability/figures.py`` prints them past pytest's capture). If every test passed,
the figures go into README.md between ``<!-- reliability:start -->`` and ``<!-- reliability:end -->``
(the section "Reliability and security", created right after "Reliability" if missing), with this
command and the date, and the load figures into bench/RESULTS.md. A failed run writes nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
HEADING = "## Reliability and security"
COMMAND = "python bench/reliability.py"
PYTEST = ["-m", "pytest", "-m", "reliability", "-q", "-rfE", "tests"]
BUDGET = 15 * 60  # seconds; the target is under 10 minutes on 2 cores

# What each suite proves, in README words; a suite not listed is shown under its own name.
SUITES: dict[str, str] = {
    "faults": (
        "**Faults** (`tests/reliability/test_faults.py`): the MCP tools against the sandbox's fault injection "
        "over loopback, with 0.3 s read timeouts: commit-then-fail (500, 502, stall) on create, update, archive, "
        "share and delete, dropped connections, latency past the read timeout, 429 and 5xx bursts, an outage; "
        "then fault windows (a 429 storm on half of all upstream calls with Retry-After, 5xx, drops, latency, "
        "commit-then-fail) under concurrent mixed traffic, in-process and over streamable HTTP. *Lost*: "
        "acknowledged but not in the store. *Misreported*: reported failed but applied, without saying the "
        "outcome was unknown. *Unconfirmed*: applied although only previewed. A call's deadline is the "
        "upstream requests it makes in sequence times one request's retry budget, plus 1 s."
    ),
    "http": (
        "**HTTP transport** (`tests/reliability/test_http.py`): configured for a public host name (allowed "
        "hosts, origins, bearer token) and reached on 127.0.0.1 with that Host header; unauthorised attempts "
        "are missing, wrong, truncated, mis-cased or misplaced tokens, Basic credentials, foreign Host (421) or "
        "Origin (403), over POST, GET and DELETE; the sandbox's request log counts what reached a tool. The "
        "body limit is co_mcp's 1 MiB (MAX_REQUEST_BODY, below the mcp SDK's 4 MiB default)."
    ),
    "load": (
        "**Load** (`tests/reliability/test_load.py`, `bench/bench_load.py`): concurrent MCP sessions over "
        "streamable HTTP against `co-mcp --sandbox --transport http`, mixing reads with guarded writes "
        "(preview + confirm); details in [bench/RESULTS.md](bench/RESULTS.md)."
    ),
    "fuzz": (
        "**Fuzzing** (`tests/reliability/test_fuzz.py`): arguments generated from every tool's `inputSchema`, "
        "valid and invalid, plus hand-written nasty cases, through the real protocol in both eras."
    ),
    "secrets": (
        "**Secrets** (`tests/reliability/test_secrets.py`): canary Code Ocean token and cloud credentials, "
        "searched for, plain and encoded, in logs at debug level, stderr, errors, results, resources and the "
        "audit log."
    ),
    "untrusted": (
        "**Untrusted text** (`tests/reliability/test_untrusted.py`): poisoned names, descriptions, tags and "
        "metadata; hidden characters that reach tool output."
    ),
}


@dataclass(frozen=True)
class Figure:
    """One ``FIGURE`` line: its suite and its ``name=value`` pairs (names without the suite prefix)."""

    suite: str
    values: tuple[tuple[str, str], ...]


def parse(lines: list[str]) -> list[Figure]:
    """The figures in ``lines``, in order; a line that repeats an earlier one exactly is kept once."""
    figures: list[Figure] = []
    for line in lines:
        if not line.startswith("FIGURE "):
            continue
        pairs = [token.partition("=") for token in line[len("FIGURE ") :].split()]
        named = [(name, value) for name, eq, value in pairs if eq and name]
        if not named:
            continue
        suite = named[0][0].split(".", 1)[0]
        values = tuple((name.split(".", 1)[1] if name.startswith(f"{suite}.") else name, v) for name, v in named)
        figure = Figure(suite, values)
        if figure not in figures:
            figures.append(figure)
    return figures


def section(figures: list[Figure], *, date: str, minutes: float, machine: str) -> str:
    """The README text between the markers."""
    lines = [
        f"Produced by `{COMMAND}`, which runs `CO_MCP_RELIABILITY_FULL=1 pytest -m reliability` (every suite at "
        f"full size) and writes this section; measured {date} on {machine}, in {minutes:.1f} minutes. The "
        "default `pytest` run includes a small, fast subset of every suite. Each row is one line a suite "
        "printed (`FIGURE ...`).",
        "",
    ]
    order = [*SUITES, *sorted({f.suite for f in figures} - set(SUITES))]
    for suite in order:
        rows = [f for f in figures if f.suite == suite]
        if not rows:
            continue
        lines += [SUITES.get(suite, f"**{suite}**"), "", "| figures |", "|---|"]
        lines += ["| " + " · ".join(f"{name} = {value}" for name, value in f.values) + " |" for f in rows]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def place(readme: str, body: str) -> str:
    """``readme`` with ``body`` between the markers; the section is created after "## Reliability" if missing."""
    if START in readme and END in readme:
        before, rest = readme.split(START, 1)
        after = rest.split(END, 1)[1]
        return f"{before}{START}\n{body}{END}{after}"
    block = f"{HEADING}\n\n{START}\n{body}{END}\n\n"
    lines = readme.splitlines(keepends=True)
    anchor = next((i for i, line in enumerate(lines) if line.rstrip() == "## Reliability"), None)
    if anchor is None:
        return readme.rstrip() + "\n\n" + block.rstrip() + "\n"
    following = next((i for i in range(anchor + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "".join(lines[:following]) + block + "".join(lines[following:])


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
