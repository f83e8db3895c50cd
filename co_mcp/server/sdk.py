"""Every reach into the MCP SDK beyond its public API, in one place.

Each reach says why co_mcp needs it and what happens if the SDK changes it. tests/server/test_sdk.py pins each
one, so an SDK release that changes one fails there, by name, rather than quietly in front of a model. Each
degrades to the SDK's own behaviour rather than breaking the server: a changed reach costs a wording or a
little start-up time, never a tool.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mcp.server.mcpserver.tools import Tool

__all__ = [
    "ValidateArgumentsAsSent",
    "is_resolver_refusal",
    "sdk_logging_setup_skipped",
    "validate_with",
]


# --- 1. Arguments validated by the tool's own model, exactly as sent -------------------------------------
#
# The SDK builds a tool's argument model from its function's signature. co_mcp's tools have their own pydantic
# models (model-level rules included) whose schema is the published inputSchema, so the SDK is handed that model
# instead (FuncMetadata.arg_model, an ArgModelBase): what the model is told and what is enforced are one thing.
# And before validating, the SDK decodes any string sent for a non-``str`` field as JSON (a habit of one desktop
# client), so a description "null" became no description and "null" passed for an enum; ValidateArgumentsAsSent
# turns that off. If FuncMetadata stops calling pre_parse_json, the decoding comes back: test_sdk.py fails.


class ValidateArgumentsAsSent(FuncMetadata):
    """The SDK's argument handling, minus its JSON decoding of strings: a string argument is text, and one of
    the wrong type is refused with the field named."""

    def pre_parse_json(self, data: dict[str, Any]) -> dict[str, Any]:
        return data


def validate_with(tool: Tool, args_model: type[BaseModel]) -> type[BaseModel]:
    """Make ``tool`` validate its calls with ``args_model``, as sent; returns the model the SDK now uses.

    Rejected input is hidden from the error messages: it may be long, or someone's secret pasted by mistake.
    """
    arg_model = type(
        f"{tool.name}_arguments",
        (args_model, ArgModelBase),
        {
            "model_config": ConfigDict(hide_input_in_errors=True, title=f"arguments of {tool.name}"),
            "__module__": __name__,
        },
    )
    current = tool.fn_metadata
    fields = {name: getattr(current, name) for name in type(current).model_fields}
    tool.fn_metadata = ValidateArgumentsAsSent(**(fields | {"arg_model": arg_model}))
    return arg_model


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
