"""The MCP layer, the only package that imports ``mcp``: co_mcp's tools, resources and prompts as an MCP server,
served over stdio or streamable HTTP.

Its modules, one concern each: ``app`` (assembly), ``state`` (what every request can reach), ``catalog`` (the
tools), ``tools`` (a tool as an SDK tool; errors become results), ``guard`` (the confirmation conversation),
``refusals`` (a client's mistaken call answered as one), ``extras`` (resources, prompts, completions), ``http``
(transports) and ``sdk`` (every reach into the SDK beyond its public API).
"""

from __future__ import annotations

from co_mcp.server.app import INSTRUCTIONS, build_server, select_specs, settings_client_factory
from co_mcp.server.catalog import ToolDefinition, tool_specs
from co_mcp.server.http import MAX_REQUEST_BODY, BearerGuard, PostOnly, http_app, serve
from co_mcp.server.state import AppState, ServerOptions

__all__ = [
    "INSTRUCTIONS",
    "MAX_REQUEST_BODY",
    "AppState",
    "BearerGuard",
    "PostOnly",
    "ServerOptions",
    "ToolDefinition",
    "build_server",
    "http_app",
    "select_specs",
    "serve",
    "settings_client_factory",
    "tool_specs",
]
