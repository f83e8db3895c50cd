"""Every reach into the MCP SDK beyond its public API, in one place.

Each reach says why co_mcp needs it and what happens if the SDK changes it. tests/server/test_sdk.py pins each
one, so an SDK release that changes one fails there, by name, rather than quietly in front of a model. Each
degrades to the SDK's own behaviour rather than breaking the server: a changed reach costs some tokens, a
wording or a little start-up time, never a tool.

Besides these, co_mcp relies on behaviour of the public API that the SDK's documentation does not spell out,
each covered by tests through the real protocol:
- a tool function whose signature declares no argument parameters gets an empty argument model that passes a
  call's arguments through untouched (co_mcp validates them itself: tools.arguments_as_sent); test_sdk.py;
- the SDK reads a tool function's parameters from its signature and Resolve markers from its type hints
  (tools.make_sdk_tool sets both); every guarded tool's test in test_guard.py;
- the request-state boundary unseals 2026-07-28 request state in the request's own task, before the tool runs
  (guard.RecordingRequestStateCodec); test_guard.py's resends of one answered question.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mcp.server.mcpserver.tools import Tool

__all__ = ["compact_output_schema", "is_resolver_refusal", "sdk_logging_setup_skipped"]


# --- 1. A tool's output schema, compacted after the SDK derived it ----------------------------------------
#
# The SDK derives a tool's outputSchema from the return annotation (the view's model) and keeps it on
# Tool.fn_metadata.output_schema, whose class documents that its fields are read live, so reassigning one takes
# effect; co_mcp publishes the compacted schema (tools.compact_schema). Tool.output_schema caches it on first
# read, so this runs before the tool is listed. If the SDK stops reading it live, tools/list shows the full
# pydantic schema again, null branches and descriptions included (test_sdk.py and the tools/list snapshot fail).


def compact_output_schema(tool: Tool, compact: Callable[..., dict[str, Any]]) -> None:
    """Publish ``compact(schema, output=True)`` as the tool's outputSchema."""
    metadata = tool.fn_metadata
    if metadata.output_schema is not None:
        metadata.output_schema = compact(metadata.output_schema, output=True)


# --- 2. The SDK's refusal of an answer to a confirmation question ----------------------------------------
#
# When a client's answer to an elicitation does not fit the question (``"yes"`` where ``true`` was asked, or an
# accept with no content), the SDK's resolver machinery refuses the call with a ToolError whose text names a
# Python function ("Resolver 'co_mcp.server.guard....ask': received ..."), which the tool then reports under its
# name. Only that text tells this refusal apart, so it is matched here; if the SDK rewords it, the model reads
# the SDK's sentence instead of co_mcp's (test_sdk.py fails).

_RESOLVER_REFUSAL = "Error executing tool {tool}: Resolver "


def is_resolver_refusal(tool: str, text: str) -> bool:
    """Whether an error result's text is the SDK refusing an answer its resolver machinery could not read."""
    return text.startswith(_RESOLVER_REFUSAL.format(tool=tool))


# --- 3. The SDK's logging set-up, skipped when logging is already set up ---------------------------------
#
# MCPServer() always calls configure_logging, which imports rich (and pygments, for its tracebacks) to make a
# handler that logging.basicConfig then throws away, because co-mcp's command line configured stderr logging
# first: an import that only slows the start. The hook is looked up by name in the module that defines
# MCPServer; if it moves, nothing is skipped and the start is as slow as the SDK makes it (test_sdk.py fails).

_SDK_SERVER_MODULE = "mcp.server.mcpserver.server"
_HOOK = "configure_logging"


@contextmanager
def sdk_logging_setup_skipped() -> Iterator[None]:
    """Build an MCPServer without the SDK's configure_logging when the root logger already has handlers.

    With no handler yet (a library embedding co_mcp without logging set up), the SDK configures it as usual.
    """
    import importlib

    sdk = importlib.import_module(_SDK_SERVER_MODULE)
    original = getattr(sdk, _HOOK, None)
    if original is None or not logging.getLogger().handlers:
        yield
        return
    setattr(sdk, _HOOK, _logging_already_configured)
    try:
        yield
    finally:
        setattr(sdk, _HOOK, original)


def _logging_already_configured(level: str = "INFO") -> None:
    """The root logger has handlers: what the SDK would set up is dropped by basicConfig anyway."""
