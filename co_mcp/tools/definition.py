"""What a tool is: its declaration (name, words for the model, effect, argument model, result view, function)
and the dependencies every tool function receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from co_mcp.api.client import CodeOceanClient
    from co_mcp.config import CredentialSet
    from co_mcp.tools.common import Args
    from co_mcp.tools.guard import Plan
    from co_mcp.tools.views import View

__all__ = ["Deps", "ProgressFn", "ToolDefinition"]

# (progress so far, total, message): how a tool reports progress, whatever carries it to the client.
ProgressFn = Callable[[float, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class Deps:
    """What a tool function may use: the Code Ocean client, the server's named credential sets, progress."""

    client: CodeOceanClient
    credentials: Mapping[str, CredentialSet] = field(default_factory=dict)
    progress: ProgressFn | None = None


@dataclass(frozen=True)
class ToolDefinition:
    """One tool, declared in one place: the server turns it into an MCP tool, unchanged.

    ``effect`` sets the annotations truthfully: ``read`` changes nothing; ``write`` creates or restores and
    acts at once; ``guarded`` may change or remove what exists, so it goes through the confirmation guard:
    ``plan`` reads the state and describes the change (its ``Plan`` knows how to act), and nothing is sent
    until the user confirmed exactly that plan (a plan that removes nothing may act at once).
    """

    name: str
    title: str
    description: str
    args: type[Args]
    result: type[View]
    effect: Literal["read", "write", "guarded"]
    run: Callable[[Deps, Any], Awaitable[View]] | None = None
    plan: Callable[[Deps, Any], Awaitable[Plan]] | None = None
    idempotent: bool = True

    def __post_init__(self) -> None:
        if (self.plan is None) == (self.effect == "guarded") or (self.run is None) != (self.effect == "guarded"):
            raise TypeError(f"{self.name}: a guarded tool has a plan and no run; any other tool a run and no plan")

    @property
    def read_only(self) -> bool:
        return self.effect == "read"

    @property
    def destructive(self) -> bool:
        return self.effect == "guarded"
