"""Code Ocean REST API layer: the async client and its models. Knows nothing of MCP."""

from __future__ import annotations

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
