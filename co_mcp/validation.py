"""How a tool's argument errors read: one line per field, its path and what is allowed.

Pydantic's own text is written for Python developers: a count and the model's name, type tags
(``[type=int_type]``), documentation links, union members by their Python names (``list[str]``,
``S3Source``) and sometimes the rejected input. A model needs none of that. Each error becomes the
field's path as the model wrote it (``users[0].email``, ``source.bucket``, ``custom_metadata["k"]``) and
what that field accepts, built from the error's kind and limits; the rejected value is never repeated.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Union

from pydantic import BaseModel, ValidationError

from co_mcp.text import clean

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic.fields import FieldInfo

__all__ = ["describe_argument_errors"]

MAX_LINES = 20
MAX_NAME = 60
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")

# Phrases for an error kind that says only what the value should have been.
_KINDS = {
    "string_type": "a string",
    "string_sub_type": "a string",
    "string_unicode": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dataclass_type": "an object",
    "is_instance_of": "an object",
    "uuid_type": "a UUID such as 0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11",
    "uuid_parsing": "a UUID such as 0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11",
    "uuid_version": "a UUID such as 0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11",
    "none_required": "null",
    "missing": "required",
}


def _plural(count: Any, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _limits(kind: str, ctx: dict[str, Any]) -> str | None:
    """Phrases for the kinds whose limits come in the error's context."""
    if kind == "greater_than":
        return f"a number above {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"at least {ctx['ge']}"
    if kind == "less_than":
        return f"a number below {ctx['lt']}"
    if kind == "less_than_equal":
        return f"at most {ctx['le']}"
    if kind == "multiple_of":
        return f"a multiple of {ctx['multiple_of']}"
    if kind == "string_too_short":
        return "not empty" if ctx.get("min_length") == 1 else f"at least {_plural(ctx['min_length'], 'character')}"
    if kind == "string_too_long":
        return f"at most {_plural(ctx['max_length'], 'character')}"
    if kind == "too_short":
        return f"at least {_plural(ctx['min_length'], 'item')}"
    if kind == "too_long":
        return f"at most {_plural(ctx['max_length'], 'item')}"
    if kind == "string_pattern_mismatch":
        return f"text matching the pattern {ctx['pattern']}"
    if kind in ("literal_error", "enum"):
        return f"one of {ctx['expected']}"
    if kind in ("value_error", "assertion_error"):
        # Our own validators' sentences; pydantic puts "Value error, " before them in msg, not in ctx.
        return str(ctx["error"])
    return None


# --- where the error is: a path a person reads --------------------------------------------------------


@dataclass
class _Place:
    path: str
    annotation: Any  # what is expected at the end of the path; None when unknown
    siblings: list[str] | None  # an unknown key: the names its object accepts
    field: FieldInfo | None = None  # the model field the path ends at, for its limits


def _bare(annotation: Any) -> Any:
    """The annotation without Annotated metadata, and without None in an optional union."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    members = _members(annotation)
    if members is not None:
        rest = [m for m in members if m is not type(None)]
        if len(rest) == 1:
            return _bare(rest[0])
    return annotation


def _members(annotation: Any) -> list[Any] | None:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return list(typing.get_args(annotation))
    return None


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _tags(members: Iterable[Any], discriminator: str) -> list[str]:
    tags: list[str] = []
    for member in members:
        field = member.model_fields.get(discriminator) if _is_model(member) else None
        if field is not None and typing.get_origin(field.annotation) is Literal:
            tags += [str(value) for value in typing.get_args(field.annotation)]
    return tags


def _name(item: str) -> str:
    """A key the caller sent, as it reads in the path: bare if it is a plain name, else a cleaned, capped
    JSON string, since it may be anything (a long text, a line break, a bidirectional override)."""
    if _PLAIN_NAME.fullmatch(item):
        return item
    return json.dumps(" ".join(clean(item, MAX_NAME).split()), ensure_ascii=False)


def _locate(model: type[BaseModel], loc: tuple[int | str, ...]) -> _Place:
    """Walk the argument model along pydantic's location, dropping what is not a field.

    A union adds its member's label to the location (``str``, ``list[float]``, a class name, or a tag's value
    for a tagged union): that is how pydantic names the branch it tried, not a field the caller wrote.
    """
    place = _Place("", model, None)
    discriminator: str | None = None
    for item in loc:
        place.field = None
        current = _bare(place.annotation)
        members = _members(current)
        if isinstance(item, int):
            place.path += f"[{item}]"
            args = typing.get_args(current)
            place.annotation = args[0] if typing.get_origin(current) in (list, tuple, set) and args else None
        elif members is not None:
            # The branch pydantic tried: take it if a tag names it, else nothing more is known.
            chosen = [m for m in members if discriminator and item in _tags([m], discriminator)]
            place.annotation = chosen[0] if chosen else None
        elif _is_model(current):
            field = current.model_fields.get(item)
            place.path += ("." if place.path else "") + (item if field is not None else _name(item))
            if field is None:
                place.siblings = [f.alias or name for name, f in current.model_fields.items()]
            place.annotation = field.annotation if field is not None else None
            place.field = field
            discriminator = field.discriminator if field is not None and isinstance(field.discriminator, str) else None
            continue
        elif typing.get_origin(current) is dict:
            key = _name(item)  # a map's keys are the caller's own words: always shown as a JSON string
            place.path += f"[{key if key.startswith(chr(34)) else json.dumps(key)}]"
            args = typing.get_args(current)
            place.annotation = args[1] if len(args) == 2 else None
        else:
            place.path += ("." if place.path else "") + _name(item)
            place.annotation = None
        discriminator = None
    return place


def _range(field: FieldInfo | None) -> str:
    """A numeric field's bounds, as words: " from 1 to 100", " of at least 0"."""
    bounds: dict[str, Any] = {}
    for rule in field.metadata if field is not None else []:
        bounds.update({k: getattr(rule, k) for k in ("ge", "gt", "le", "lt") if getattr(rule, k, None) is not None})
    low = f"{bounds['ge']}" if "ge" in bounds else (f"above {bounds['gt']}" if "gt" in bounds else None)
    high = f"{bounds['le']}" if "le" in bounds else (f"below {bounds['lt']}" if "lt" in bounds else None)
    if "ge" in bounds and "le" in bounds:
        return f" from {low} to {high}"
    parts = [f"at least {low}" if "ge" in bounds else low, f"at most {high}" if "le" in bounds else high]
    return " (" + " and ".join(p for p in parts if p) + ")" if any(parts) else ""


def _allowed(kind: str, ctx: dict[str, Any], msg: str, place: _Place) -> tuple[str, str]:
    """The path to show and what it allows, for one error."""
    path = place.path
    if kind == "extra_forbidden":
        known = f" (accepted here: {', '.join(place.siblings)})" if place.siblings else ""
        return path, f"not an argument of this tool{known}" if "." not in path else f"not a known field{known}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        name = str(ctx.get("discriminator", "")).strip("'\"") or "kind"
        members = _members(_bare(place.annotation)) or []
        tags = _tags(members, name) or [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",") if t]
        choice = "one of " + ", ".join(repr(t) for t in tags) if tags else "a known kind"
        return f"{path}.{name}" if path else name, ("required: " if kind == "union_tag_not_found" else "") + choice
    phrase = _KINDS.get(kind) or _limits(kind, ctx)
    if phrase in ("a whole number", "a number"):
        phrase += _range(place.field)
    if phrase is None:
        # A kind not listed above: pydantic's sentence, which names no type tag, link or input.
        phrase = msg.removeprefix("Input should be ").removeprefix("Value error, ")
    return path, phrase


def describe_argument_errors(tool: str, model: type[BaseModel], error: ValidationError) -> str:
    """The refusal a model reads: what was wrong with each field, and that nothing was sent."""
    by_path: dict[str, list[str]] = {}
    for item in error.errors(include_url=False, include_input=False):
        place = _locate(model, tuple(item["loc"]))
        path, phrase = _allowed(item["type"], dict(item.get("ctx") or {}), item["msg"], place)
        phrases = by_path.setdefault(path, [])
        if phrase not in phrases:
            phrases.append(phrase)
    lines = [f"Invalid arguments of {tool}; nothing was sent to Code Ocean."]
    for path, phrases in list(by_path.items())[:MAX_LINES]:
        # Several phrases for one path are the branches of a union: any one of them is allowed.
        allowed = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]
        lines.append(f"- {path}: {allowed}" if path else f"- {allowed}")
    if len(by_path) > MAX_LINES:
        lines.append(f"- and {len(by_path) - MAX_LINES} more")
    return "\n".join(lines)
