"""co_mcp: an MCP server for Code Ocean data assets, with a faithful local sandbox of the API."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
