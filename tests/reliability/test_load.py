"""Load: concurrent MCP sessions over loopback streamable HTTP, mixed reads and guarded writes.

The work is tests/reliability/load.py's: ``co-mcp --sandbox --transport http`` as a subprocess, N sessions
for a bounded time (``CO_MCP_RELIABILITY_FULL=1``: 50 sessions, 60 s; default: 5 sessions, 3 s).
Figures ``load.*``: error rate (target < 0.1 %), p50/p95/p99 latency, server RSS at start and end.
``python bench/reliability.py`` turns them into bench/RESULTS.md's load section.
"""

from __future__ import annotations

import pytest

from tests.reliability.figures import FULL, emit
from tests.reliability.load import run_load

pytestmark = [pytest.mark.anyio, pytest.mark.load, pytest.mark.reliability, pytest.mark.loopback, pytest.mark.slow]

SESSIONS, SECONDS = (50, 60.0) if FULL else (5, 3.0)
# Flat memory: the server may grow by caches and pools as load starts, then no more than noise.
MAX_GROWTH_MB = 40.0
MAX_SECOND_HALF_GROWTH_MB = 10.0


async def test_concurrent_sessions_with_mixed_traffic_stay_correct_fast_and_flat(
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = await run_load(SESSIONS, SECONDS)
    emit(capsys, "load", **result.figures())
    assert result.calls > SESSIONS, "every session made calls"
    assert result.writes > 0
    assert result.error_rate < 0.001, result.examples
    assert result.rss_end_mb - result.rss_start_mb < MAX_GROWTH_MB
    assert result.second_half_growth_mb < MAX_SECOND_HALF_GROWTH_MB
