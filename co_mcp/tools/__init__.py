"""The tools co_mcp offers, one module per tool (the file tools are one small family).

Each module declares its tool in one place (``TOOL``: name, title, description, effect, argument model,
result view, function or plan) beside the code it runs. ``CATALOG`` is the list the server offers, in the
order ``tools/list`` shows them; adding a tool is a new module and its line here.
"""

from __future__ import annotations

from co_mcp.tools import (
    archive,
    create,
    delete,
    files,
    get,
    metadata_schema,
    permissions,
    search,
    share,
    transfer,
    unarchive,
    update,
    wait,
)
from co_mcp.tools.definition import ToolDefinition

__all__ = ["CATALOG", "ToolDefinition"]

CATALOG: list[ToolDefinition] = [
    search.TOOL,
    get.TOOL,
    permissions.TOOL,
    files.LIST_FILES,
    files.READ_FILE,
    files.FILE_URLS,
    metadata_schema.TOOL,
    wait.TOOL,
    create.TOOL,
    unarchive.TOOL,
    update.TOOL,
    archive.TOOL,
    delete.TOOL,
    share.TOOL,
    transfer.TOOL,
]
