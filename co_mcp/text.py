"""Text that reaches a model: untrusted strings made inert, sizes and dates made readable."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from typing import Any

__all__ = ["clean", "human_size", "iso_date", "iso_datetime", "quoted", "snippet"]

# Kept: newline and tab (descriptions have paragraphs). Dropped: every other control (Cc), every
# format character (Cf: zero-width spaces and joiners, bidi embeddings, overrides and isolates, the
# Unicode tag block U+E0000-E007F, soft hyphen), and private-use, unassigned and surrogate code points.
# Names, tags and descriptions are written by other people; hidden characters in them can carry
# instructions a human reviewing the conversation never sees.
_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cn", "Cs"})
# Also dropped: the rest of Unicode's Default_Ignorable_Code_Point, characters that render as nothing
# although they are letters or marks: the combining grapheme joiner, Hangul fillers, Khmer and Mongolian
# invisibles, and variation selectors, which carry a hidden byte each when strung after an emoji
# (found by the untrusted-text suite). One emoji presentation selector (U+FE0E/U+FE0F) straight after a
# visible character is how emoji are written, and is kept.
_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
_PRESENTATION = frozenset("\ufe0e\ufe0f")
_KEEP = frozenset("\n\t")
# Line and paragraph separators would break the one-line layout of compact text.
_AS_SPACE = frozenset("\u2028\u2029\r\x0b\x0c\x85")


# The ASCII part of the rules above, as a translation table: controls go, \r \v \f become spaces.
_ASCII_TABLE = {code: (" " if chr(code) in _AS_SPACE else None) for code in [*range(32), 127] if chr(code) not in _KEEP}


def _visible(char: str) -> bool:
    if char in _KEEP or (char.isascii() and char.isprintable()):
        return True  # the common case, without a Unicode database look-up
    if unicodedata.category(char) in _DROP_CATEGORIES:
        return False
    point = ord(char)
    return not any(low <= point <= high for low, high in _IGNORABLE)


def _presents(char: str, before: list[str]) -> bool:
    """An emoji presentation selector right after a visible character (not after another selector)."""
    return char in _PRESENTATION and bool(before) and not before[-1].isspace() and before[-1] not in _PRESENTATION


def clean(text: str | None, limit: int = 2000, *, strip: bool = True) -> str:
    """Remove invisible and control characters and cap the length (an ellipsis marks a cut).

    ``strip=False`` keeps surrounding white space, for slices of a file where it is content.
    """
    if not text:
        return ""
    if text.isascii():
        # Most text is plain ASCII: one C-level pass instead of a Python loop over every character
        # (this runs for every name, tag and description in every result).
        result = text.translate(_ASCII_TABLE)
    else:
        out: list[str] = []
        for char in text:
            if char in _AS_SPACE:
                out.append(" ")
            elif _visible(char) or _presents(char, out):
                out.append(char)
        result = "".join(out)
    if strip:
        result = result.strip()
    if len(result) > limit:
        result = result[: max(limit - 1, 0)].rstrip() + "…"
    return result


def quoted(value: Any) -> str:
    """A person's text (or a JSON value) as a compact literal, so it reads as data, not as our words."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def snippet(text: str | None, limit: int = 140) -> str:
    """The first ``limit`` characters of cleaned text on one line."""
    return clean(" ".join((text or "").split()), limit)


_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_size(size: int | None) -> str:
    """1234567 -> '1.2 MB' (decimal units, as storage vendors and Code Ocean's UI count)."""
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _moment(epoch: float | None) -> dt.datetime | None:
    """Epoch seconds as a UTC time; milli- or microseconds are recognised, nonsense becomes None.

    One asset with a timestamp in the wrong unit must not fail a whole search.
    """
    if not epoch:
        return None
    value = float(epoch)
    while abs(value) > 1e11:  # later than the year 5138 in seconds: milliseconds or finer
        value /= 1000
    try:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso_datetime(epoch: float | None) -> str | None:
    """Epoch seconds -> '2024-05-01T12:34:56Z'; None and 0 (never) -> None."""
    moment = _moment(epoch)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def iso_date(epoch: float | None) -> str | None:
    moment = _moment(epoch)
    return moment.strftime("%Y-%m-%d") if moment else None
