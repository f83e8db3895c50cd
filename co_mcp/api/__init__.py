"""Code Ocean REST API layer: the async client and its models. Knows nothing of MCP.

Names are loaded on first use (PEP 562): importing ``co_mcp.api.models`` alone, as the tool layer does
at start-up, must not pull in httpx2 and the retry machinery before the first request needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from co_mcp.api.client import (
        DEFAULT_AGENT_ID,
        DEFAULT_LIMITS,
        DEFAULT_TIMEOUT,
        CodeOceanClient,
        FileChunk,
        RetryEvent,
        RetryPolicy,
        WaitPolicy,
        WaitProgress,
        validate_id,
    )

__all__ = [
    "DEFAULT_AGENT_ID",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "CodeOceanClient",
    "FileChunk",
    "RetryEvent",
    "RetryPolicy",
    "WaitPolicy",
    "WaitProgress",
    "validate_id",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("co_mcp.api.client"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
