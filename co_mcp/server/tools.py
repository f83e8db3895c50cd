"""Turning a tool declaration into an SDK tool: its published schemas, its arguments validated as sent, the one
place errors become results, and the audit of plain writes.

Each tool's published ``inputSchema`` is its pydantic argument model's schema, and each call is validated with
that same model (model-level rules included), so what the model is told and what is enforced cannot drift apart.
The SDK's own argument handling is left with nothing to do: the function it is given declares no argument
parameters, so its argument model is empty, and the tool reads the arguments exactly as the client sent them.
(The SDK would first decode any string sent for a non-``str`` field as JSON, so a description "null" would be no
description, and "null" would pass for an enum; as sent, a string is text, and one of the wrong type is refused
with the field named.)
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from co_mcp.audit import AuditLogError
from co_mcp.errors import APIStatusError, CoMcpError, explain, outcome_unknown
from co_mcp.server.catalog import annotations_of, deps_for
from co_mcp.server.people import tool_error
from co_mcp.server.sdk import compact_output_schema
from co_mcp.validation import describe_argument_errors

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from co_mcp.server.state import AppContext, AppState
    from co_mcp.tools.common import Args
    from co_mcp.tools.definition import ToolDefinition
    from co_mcp.tools.views import View

__all__ = [
    "arguments_as_sent",
    "build_plain_tool",
    "compact_schema",
    "make_sdk_tool",
    "result_or_error",
    "tool_result",
]

log = logging.getLogger(__name__)

# Length caps above this many characters are enforced but not published (see compact_schema).
LONG_TEXT = 100


def compact_schema(schema: dict[str, Any], *, output: bool = False) -> dict[str, Any]:
    """The published schema without what costs tokens and says nothing.

    Results never contain null (``View.wire`` drops them) and an omitted argument means None, so an
    optional field is published as its non-null type. Titles repeat property names. ``discriminator`` is
    an OpenAPI extension JSON Schema validators ignore; each branch's ``const`` already tells them apart.
    In output schemas, defaults and model docstrings are for developers, not models.
    """

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = dict(node)
        branches = node.get("anyOf")
        if isinstance(branches, list) and {"type": "null"} in branches:
            rest = [b for b in branches if b != {"type": "null"}]
            del node["anyOf"]
            if len(rest) == 1 and isinstance(rest[0], dict):
                node = {**rest[0], **node}
            else:
                node["anyOf"] = rest
        if node.get("default", ...) is None:
            del node["default"]
        if node.get("additionalProperties") is True:
            del node["additionalProperties"]  # the JSON Schema default
        if ("const" in node or "enum" in node) and node.get("type") == "string":
            del node["type"]  # the listed values already say it
        dropped = {"title", "discriminator"} | ({"default", "description"} if output else set())
        # Generous length caps (names, buckets, paths, long text) guard the server, not the model's choices:
        # they are enforced on every call and explained in the error, but not worth publishing.
        if isinstance(node.get("maxLength"), int) and node["maxLength"] > LONG_TEXT:
            del node["maxLength"]
        if node.get("minLength") == 1:
            del node["minLength"]  # "not empty" is what any model assumes; the error says so if not
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in dropped and not (key == "title" and not isinstance(value, str)):
                continue
            # Property maps hold names, not schema keywords: a property called "title" must survive.
            out[key] = {k: walk(v) for k, v in value.items()} if key in ("properties", "$defs") else walk(value)
        return out

    compacted: dict[str, Any] = walk(schema)
    for definition in compacted.get("$defs", {}).values():
        # Nested objects reject unknown keys all the same (extra="forbid"); saying so once, at the top, is enough.
        if definition.get("additionalProperties") is False:
            del definition["additionalProperties"]
    return compacted


# --- arguments, errors and results -----------------------------------------------------------------------------------


def arguments_as_sent(ctx: Context[Any, Any], spec: ToolDefinition) -> Args:
    """The call's arguments, exactly as the client sent them, validated with the tool's model; or a ToolError
    naming each field that is wrong (which the refusals middleware also makes the whole answer)."""
    raw = (ctx.request_context.params or {}).get("arguments") or {}
    try:
        return spec.args.model_validate(raw)
    except ValidationError as exc:
        raise ToolError(describe_argument_errors(spec.name, spec.args, exc)) from None


async def result_or_error(tool: str, work: Awaitable[View]) -> CallToolResult:
    """The one place errors become protocol results: ours are explained, a bug is logged and hidden."""
    try:
        view = await work
    except CoMcpError as exc:
        raise tool_error(exc) from None
    except ToolError:
        raise
    except Exception:
        # A bug: the traceback goes to stderr, the model gets a plain sentence, the server keeps serving.
        log.exception("tool %s failed unexpectedly", tool)
        raise ToolError(explain(RuntimeError())) from None
    if view.is_error():
        # Nothing the call asked for came back (every id failed): an error, whose text says why for each.
        raise ToolError(view.as_text())
    return tool_result(view)


def tool_result(view: View) -> CallToolResult:
    """A view as a tool result. Each channel is complete on its own: hosts hand the model the text, the
    structured content, or both."""
    text = [TextContent(type="text", text=view.as_text())]
    return CallToolResult(content=text, structured_content=view.structured_content())


# --- the audit of plain writes (guarded tools audit each action themselves) ---------------------------------


def asset_ids_of(args: Args, view: View | None) -> list[str]:
    """The data asset ids a write concerned, for the audit log."""
    data = args.model_dump(mode="json")
    ids = data.get("data_asset_ids") or ([data["data_asset_id"]] if data.get("data_asset_id") else [])
    created = getattr(view, "asset", None)
    if created is not None and getattr(created, "id", None):
        ids = [*ids, created.id]
    return list(dict.fromkeys(str(i) for i in ids))


async def audit_write(
    state: AppState, tool: str, args: Args, view: View | None, error: CoMcpError | None, *, outcome: str | None = None
) -> None:
    """One audit line: ``attempt`` before a write is sent, then what came of it."""
    status = error.status_code if isinstance(error, APIStatusError) else (None if error or outcome else 200)
    await state.audit.write(
        tool,
        outcome=outcome or (("unknown" if outcome_unknown(error) else "failed") if error else "done"),
        data_asset_ids=asset_ids_of(args, view),
        arguments=args.model_dump(mode="json", exclude_none=True),
        status=status,
        message=(error.message if isinstance(error, APIStatusError) else str(error)) if error else None,
    )


async def audit_outcome(
    state: AppState,
    tool: str,
    args: Args,
    view: View | None,
    error: CoMcpError | None,
    *,
    unrecorded: list[AuditLogError],
) -> None:
    """The outcome line. Its failure must not turn a write that happened into a reported failure (a retry
    would repeat it): the outcome is reported as it is, and ``unrecorded`` collects why it is not logged."""
    try:
        await audit_write(state, tool, args, view, error)
    except AuditLogError as exc:
        unrecorded.append(exc)


def unrecorded_note(exc: AuditLogError) -> str:
    """Added to the answer of a write whose outcome line could not be written."""
    said = exc.unrecorded()
    return f"{said[0].upper()}{said[1:]}. The server's operator must fix the audit log (CO_MCP_AUDIT_LOG)."


# --- building the SDK tools ---------------------------------------------------------------------------------


def build_plain_tool(spec: ToolDefinition) -> Tool:
    """A tool that acts when called: a read, or a write that is audited before it is sent."""

    async def call(ctx: AppContext) -> CallToolResult:
        state: AppState = ctx.request_context.lifespan_context
        args = arguments_as_sent(ctx, spec)
        assert spec.run is not None
        if not spec.read_only:
            try:
                # Before the write: if the audit log cannot take a line, the write does not happen.
                await audit_write(state, spec.name, args, None, None, outcome="attempt")
            except AuditLogError as exc:
                raise ToolError(explain(exc)) from None
        unrecorded: list[AuditLogError] = []

        async def work() -> View:
            assert spec.run is not None
            try:
                view = await spec.run(deps_for(state, ctx), args)
            except CoMcpError as exc:
                if not spec.read_only:
                    await audit_outcome(state, spec.name, args, None, exc, unrecorded=unrecorded)
                raise
            if not spec.read_only:
                await audit_outcome(state, spec.name, args, view, None, unrecorded=unrecorded)
            return view

        try:
            result = await result_or_error(spec.name, work())
        except ToolError as exc:
            if unrecorded:
                raise ToolError(f"{exc}\n{unrecorded_note(unrecorded[0])}") from None
            raise
        if unrecorded:
            result.content.append(TextContent(type="text", text=unrecorded_note(unrecorded[0])))
        return result

    return make_sdk_tool(spec, call, [])


def make_sdk_tool(
    spec: ToolDefinition, call: Callable[..., Awaitable[CallToolResult]], extra: list[inspect.Parameter]
) -> Tool:
    """The SDK tool that runs ``call``, publishing the tool's argument model as inputSchema.

    ``call`` takes ``ctx`` and the ``extra`` parameters (filled by the SDK's resolvers), and reads the tool's
    arguments with ``arguments_as_sent``. Its result is the tool's view as a CallToolResult, published with the
    view's schema as outputSchema.
    """
    parameters = [inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context), *extra]
    returns = Annotated[CallToolResult, spec.result]
    # The SDK reads parameters from the signature and Resolve markers from the type hints: set both.
    call.__name__ = spec.name
    call.__signature__ = inspect.Signature(parameters, return_annotation=returns)  # type: ignore[attr-defined]
    call.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": returns}
    tool = Tool.from_function(
        call,
        name=spec.name,
        title=spec.title,
        description=spec.description,
        annotations=annotations_of(spec),
        context_kwarg="ctx",
        structured_output=True,
    )
    tool.parameters = compact_schema(spec.args.model_json_schema())
    compact_output_schema(tool, compact_schema)
    return tool
