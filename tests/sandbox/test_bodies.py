"""Request bodies: strict types, null as absent, and 400 messages that name the field."""

from __future__ import annotations

import pytest

from co_mcp.sandbox.bodies import CreateBody, InvalidBody, SearchBody, UpdateBody, parse_body


def message(model: type[SearchBody] | type[UpdateBody] | type[CreateBody], raw: bytes) -> str:
    with pytest.raises(InvalidBody) as caught:
        parse_body(model, raw)
    return str(caught.value)


def test_an_enum_error_lists_the_choices() -> None:
    assert message(SearchBody, b'{"sort_field": "date"}') == "sort_field: must be one of created, type, name, size"


def test_nested_locations_read_like_paths() -> None:
    raw = b'{"filters": [{"key": "size", "range": {"min": "1"}}]}'
    assert message(SearchBody, raw) == "filters[0].range.min: must be a number"


def test_numbers_are_not_taken_from_strings() -> None:
    assert message(SearchBody, b'{"limit": "5"}') == "limit: must be an integer"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b'{"limit": 1001}', "limit: must be at most 1000"),
        (b'{"limit": 0}', "limit: must be at least 1"),
        (b'{"offset": -1}', "offset: must be at least 0"),
    ],
)
def test_page_bounds(raw: bytes, text: str) -> None:
    assert message(SearchBody, raw) == text


def test_malformed_json_says_so() -> None:
    assert message(SearchBody, b"{nope") == "request body is not valid JSON"


@pytest.mark.parametrize("raw", [b"[1, 2]", b"null", b'"text"'])
def test_a_body_that_is_not_an_object_says_so(raw: bytes) -> None:
    assert message(SearchBody, raw) == "request body must be a JSON object"


def test_explicit_null_is_the_same_as_absent() -> None:
    sdk_style = b'{"name": null, "description": null, "tags": null, "mount": null, "custom_metadata": null}'
    assert parse_body(UpdateBody, sdk_style) == parse_body(UpdateBody, b"{}")


def test_an_empty_body_is_an_empty_object() -> None:
    assert parse_body(SearchBody, b"") == SearchBody()


def test_unknown_keys_are_ignored() -> None:
    assert parse_body(SearchBody, b'{"query": "x", "colour": "red"}').query == "x"


def test_from_is_the_legacy_name_of_offset() -> None:
    assert parse_body(SearchBody, b'{"from": 20}').from_ == 20


def test_missing_required_field_is_named() -> None:
    assert message(CreateBody, b'{"name": "n", "tags": []}') == "mount: is required"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b'{"name": "  "}', "name: must not be empty"),
        (b'{"mount": "a/b"}', "mount: must be a folder name without '/'"),
        (b'{"tags": ["ok", ""]}', "tags[1]: must not be empty"),
    ],
)
def test_blank_and_malformed_strings_are_refused(raw: bytes, text: str) -> None:
    assert message(UpdateBody, raw) == text


@pytest.mark.parametrize("values", [b"true", b'"a"', b"[true]", b"[{}]", b"[null]"])
def test_filter_values_are_a_list_of_strings_or_numbers(values: bytes) -> None:
    raw = b'{"filters": [{"key": "tags", "values": ' + values + b"}]}"
    assert message(SearchBody, raw) == "filters[0].values: must be a list of strings or numbers"


def test_a_boolean_filter_value_is_refused() -> None:
    assert message(SearchBody, b'{"filters": [{"key": "tags", "value": false}]}') == (
        "filters[0].value: must be a string or a number"
    )


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_refused(number: bytes) -> None:
    raw = b'{"filters": [{"key": "sample_count", "range": {"min": ' + number + b"}}]}"
    assert message(SearchBody, raw) == "filters[0].range.min: must be a finite number"


def test_an_offset_sqlite_cannot_bind_is_refused() -> None:
    assert message(SearchBody, b'{"offset": 100000000000000000000000}') == "offset: must be at most 9223372036854775807"
