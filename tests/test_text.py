"""Text helpers: invisible characters removed, sizes and dates readable, odd epochs survived."""

from __future__ import annotations

from co_mcp.text import clean, human_size, iso_date, iso_datetime, quoted, snippet


def test_clean_removes_bidi_overrides_zero_width_and_tag_characters() -> None:
    assert clean("ok\u202eevil\u200b\U000e0041tag\x00") == "okeviltag"


def test_clean_keeps_newlines_and_tabs() -> None:
    assert clean("a\n\tb") == "a\n\tb"


def test_snippet_is_one_line() -> None:
    assert snippet("a\n\nb  c") == "a b c"


def test_quoted_escapes_what_could_break_a_line() -> None:
    assert quoted('say "hi"\n') == '"say \\"hi\\"\\n"'


def test_human_size() -> None:
    assert (human_size(999), human_size(1_234_567_890), human_size(None)) == ("999 B", "1.2 GB", "size unknown")


def test_epochs_in_milliseconds_are_read_as_such() -> None:
    assert iso_date(1_700_000_000_000) == iso_date(1_700_000_000) == "2023-11-14"


def test_epochs_in_finer_units_are_scaled_down_instead_of_crashing() -> None:
    assert iso_datetime(1_700_000_000_000_000) == "2023-11-14T22:13:20Z"  # microseconds
    assert iso_datetime(10**30) is not None  # absurd, but one bad asset must not fail a search


def test_the_ascii_fast_path_applies_the_same_rules() -> None:
    every_ascii = "".join(chr(code) for code in range(128))
    expected = "".join(" " if c in "\r\x0b\x0c" else c for c in every_ascii if c in "\n\t\r\x0b\x0c" or c.isprintable())
    assert clean(every_ascii, strip=False) == expected
