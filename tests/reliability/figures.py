"""How reliability suites report: one ``FIGURE suite.name=value ...`` line per measurement, always shown.

The line is written past pytest's output capture, on a line of its own, so a run with or without
``-s`` shows it and ``grep '^FIGURE '`` collects it. ``CO_MCP_RELIABILITY_FULL=1`` selects the full
sizes (the figures the README quotes); without it each suite runs a small subset fit for the default
test run.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["FULL", "emit", "figure_line"]

FULL = os.environ.get("CO_MCP_RELIABILITY_FULL", "") not in ("", "0")


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
