"""How reliability suites report: one ``FIGURE suite.name=value ...`` line per measurement, always shown.

The line is written past pytest's output capture, on a line of its own, so a run with or without
``-s`` shows it and ``grep '^FIGURE '`` collects it. ``CO_MCP_RELIABILITY_FULL=1`` selects the full
sizes (the figures the README quotes); without it each suite runs a small subset fit for the default
test run.

``parse`` reads those lines back and ``section`` and ``place`` make them the README's section
"Reliability and security"; ``python bench/reliability.py`` runs the suites at full size and writes it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

__all__ = ["COMMAND", "END", "FULL", "HEADING", "START", "Figure", "emit", "figure_line", "parse", "place", "section"]

FULL = os.environ.get("CO_MCP_RELIABILITY_FULL", "") not in ("", "0")
START, END = "<!-- reliability:start -->", "<!-- reliability:end -->"
HEADING = "## Reliability and security"
COMMAND = "python bench/reliability.py"


def figure_line(suite: str, values: dict[str, object]) -> str:
    """``FIGURE fuzz.calls=5123 fuzz.internal_errors=0 ...`` (floats to 3 significant places)."""

    def shown(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value).replace(" ", "_")

    return "FIGURE " + " ".join(f"{suite}.{key}={shown(value)}" for key, value in values.items())


def emit(capsys: pytest.CaptureFixture[str], suite: str, **values: object) -> str:
    """Print one figure line whatever the capture mode; returns it (for the test's own assertions)."""
    line = figure_line(suite, values)
    with capsys.disabled():
        print(f"\n{line}", flush=True)
    return line


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
    "team": (
        "**Team mode** (`tests/reliability/test_team.py`): co-mcp as an OAuth resource server "
        "(CO_MCP_AUTH_ISSUER) with real access tokens from an OpenID provider (oidc-provider under Node) and the "
        "sandbox as Code Ocean, over loopback HTTP. Unauthorised attempts, each with everything else right: no, "
        "garbage, forged, truncated or expired tokens, another audience or issuer, no scope, a read-only token "
        "on every write tool (403), the token as Basic, in the query or a cookie, a foreign Host (421), over "
        "POST, GET and DELETE; the sandbox's request log counts what reached a tool. Cross-user reads: three "
        "people linked to their own Code Ocean tokens search, get, list files and read permissions at once over "
        "assets each can and cannot see; a read is cross-user if a result shows an asset the person's own token "
        "does not, or if a Code Ocean request made for their call carries another person's token."
    ),
    "load": (
        "**Load** (`tests/reliability/test_load.py`, `tests/reliability/load.py`): concurrent MCP sessions over "
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
        "default `pytest` run includes a small, fast subset of every suite but load (`pytest -m load`). Each "
        "row is one line a suite printed (`FIGURE ...`).",
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
