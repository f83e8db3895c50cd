"""A client's mistaken call, answered as one: middleware around ``tools/call`` and ``prompts/get``.

The SDK answers an unknown tool with an isError result, as if the tool had run and failed; the spec's answer
is the protocol error -32602 Invalid params ("Unknown tool"), which a client can tell apart from a tool's own
failure. It turns an unknown prompt, a missing required prompt argument or an unexpected one into an internal
error (code 0 over JSON-RPC, -32603 in 2026-07-28) and logs a traceback, as if co_mcp had crashed; the answer
is -32602 too, checked against the prompt's published arguments so the message names what is wrong. And it
words its own refusals of a call for Python developers; a model reads co_mcp's sentences instead.

This uses the SDK's public ``middleware=`` (``ServerMiddleware``): each runs before the request's parameters
are validated and sees the wire form of the result, which it may reword.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp.shared.exceptions import MCPError
from mcp.types import INVALID_PARAMS
from pydantic import BaseModel, ValidationError

from co_mcp.server.guard import UNREADABLE_ANSWER
from co_mcp.server.sdk import is_resolver_refusal
from co_mcp.text import clean
from co_mcp.validation import describe_argument_errors

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext

__all__ = ["prompt_refusals", "tool_call_refusals"]


def tool_call_refusals(arg_models: Mapping[str, type[BaseModel]], withheld: frozenset[str]) -> ServerMiddleware[Any]:
    """``tools/call``: an unknown tool is -32602; the SDK's refusals of a call are reworded for a model.

    ``arg_models`` holds each offered tool's argument model, the one its calls are validated with; ``withheld``, the
    co_mcp tools this configuration leaves out (read-only mode, CO_MCP_TOOLS / CO_MCP_DISABLE).
    """
    offered = ", ".join(sorted(arg_models))

    async def refusals(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        name = params.get("name") if ctx.method == "tools/call" and isinstance(params, Mapping) else None
        if not isinstance(name, str):
            return await call_next(ctx)  # not a tool call, or one the SDK refuses as malformed
        model = arg_models.get(name)
        if model is None:
            why = (
                " (not offered here: read-only mode, or CO_MCP_TOOLS / CO_MCP_DISABLE)"
                if name in withheld
                else f"; tools: {offered}"
            )
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {clean(name, 100)!r}{why}")
        result = await call_next(ctx)
        if not isinstance(result, dict) or result.get("isError") is not True:
            return result
        assert params is not None
        plain = _plain_refusal(name, model, params.get("arguments") or {}, result)
        return result if plain is None else {**result, "content": [{"type": "text", "text": plain}]}

    return refusals


def _plain_refusal(tool: str, model: type[BaseModel], arguments: Any, result: dict[str, Any]) -> str | None:
    """The SDK's own refusal of a call, reworded for a model: no Python names, type tags or links; or None.

    A call's arguments are validated with ``model`` before anything else runs, so an error result for
    arguments that ``model`` rejects is that refusal, and the whole answer is the field lines, without the
    SDK's "Error executing tool" in front (co_mcp.validation). An
    answer to the confirmation question that does not fit it (``"yes"`` for ``true``, no content) is refused
    by the SDK in words that name a Python function. Any other error result is co_mcp's own and stays.
    """
    try:
        model.model_validate(arguments)
    except ValidationError as exc:
        return describe_argument_errors(tool, model, exc)
    content = result.get("content")
    first = content[0] if isinstance(content, list) and content else None
    said = first.get("text") if isinstance(first, dict) else None
    if isinstance(said, str) and is_resolver_refusal(tool, said):
        return UNREADABLE_ANSWER
    return None


def prompt_refusals(server: MCPServer[Any]) -> ServerMiddleware[Any]:
    """``prompts/get``: an unknown prompt, or arguments that do not fit its published ones, is -32602."""

    async def refusals(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        params = ctx.params
        name = params.get("name") if ctx.method == "prompts/get" and isinstance(params, Mapping) else None
        if not isinstance(name, str):
            return await call_next(ctx)
        arguments = params.get("arguments") if params is not None else None
        prompts = {prompt.name: prompt for prompt in await server.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name[:100]!r}; prompts: {', '.join(sorted(prompts))}")
        declared = prompt.arguments or []
        given = set(arguments) if isinstance(arguments, Mapping) else set()
        missing = [arg.name for arg in declared if arg.required and arg.name not in given]
        unexpected = sorted(given - {arg.name for arg in declared})
        problems = [
            *([f"missing required argument(s): {', '.join(missing)}"] if missing else []),
            *([f"unknown argument(s): {', '.join(a[:100] for a in unexpected[:10])}"] if unexpected else []),
        ]
        if problems:
            accepted = ", ".join(arg.name for arg in declared) or "none"
            raise MCPError(INVALID_PARAMS, f"Prompt {name}: {'; '.join(problems)} (arguments: {accepted})")
        return await call_next(ctx)

    return refusals
