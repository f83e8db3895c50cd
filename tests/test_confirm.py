"""Confirmation tokens: each way a token must be refused, and the one way it is accepted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from co_mcp.confirm import Refusal, TokenSigner, canonical, fingerprint

ARGS = {"data_asset_ids": ["0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11"]}
STATE = fingerprint({"0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11": {"name": "x", "state": "ready"}})
NOW = 1_800_000_000.0


def signer() -> TokenSigner:
    return TokenSigner(b"k" * 32, ttl=300)


def test_a_token_confirms_the_action_it_was_issued_for() -> None:
    token = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    assert signer().check(token, "delete_data_asset", ARGS, current=STATE, now=NOW + 10) is None


def test_a_tampered_token_is_refused() -> None:
    token = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert signer().check(forged, "delete_data_asset", ARGS, current=STATE, now=NOW) is Refusal.MISMATCH


def test_a_token_with_a_pushed_expiry_is_refused() -> None:
    version, expiry, state, nonce, mac = signer().issue("delete_data_asset", ARGS, STATE, now=NOW).split(".")
    stretched = ".".join([version, str(int(expiry) + 3600), state, nonce, mac])
    assert signer().check(stretched, "delete_data_asset", ARGS, current=STATE, now=NOW) is Refusal.MISMATCH


def test_changed_arguments_are_refused() -> None:
    token = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    other = {"data_asset_ids": ["1d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11"]}
    assert signer().check(token, "delete_data_asset", other, current=STATE, now=NOW) is Refusal.MISMATCH


def test_a_token_for_another_tool_is_refused() -> None:
    token = signer().issue("archive_data_asset", ARGS, STATE, now=NOW)
    assert signer().check(token, "delete_data_asset", ARGS, current=STATE, now=NOW) is Refusal.MISMATCH


def test_changed_state_is_refused_as_changed() -> None:
    token = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    later = fingerprint({"0d9f5a4e-1c9b-4d5e-9a77-2f7d6a1e0b11": {"name": "x", "state": "failed"}})
    assert signer().check(token, "delete_data_asset", ARGS, current=later, now=NOW) is Refusal.CHANGED


def test_an_expired_token_is_refused() -> None:
    token = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    assert signer().check(token, "delete_data_asset", ARGS, current=STATE, now=NOW + 301) is Refusal.EXPIRED


def test_a_token_from_a_server_with_another_secret_is_refused() -> None:
    token = TokenSigner(b"z" * 32).issue("delete_data_asset", ARGS, STATE, now=NOW)
    assert signer().check(token, "delete_data_asset", ARGS, current=STATE, now=NOW) is Refusal.MISMATCH


def test_garbage_is_malformed() -> None:
    assert signer().check("yes please", "delete_data_asset", ARGS, current=STATE, now=NOW) is Refusal.MALFORMED


def test_canonical_json_ignores_key_order() -> None:
    assert canonical({"b": 1, "a": [1, {"d": 2, "c": 3}]}) == canonical({"a": [1, {"c": 3, "d": 2}], "b": 1})


def test_two_tokens_for_the_same_action_in_the_same_second_differ() -> None:
    # Each issued token can be used once, so a fresh preview must never hand out one already used.
    first = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    second = signer().issue("delete_data_asset", ARGS, STATE, now=NOW)
    assert first != second
    assert signer().check(second, "delete_data_asset", ARGS, current=STATE, now=NOW) is None


# --- ASCII only, one spelling per token ---------------------------------------------------------------

# Characters that str.isdigit(), int(), str.isalnum(), str.strip() or case folding take for ASCII ones.
NON_ASCII_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۹०१९০১০１９²³¹⁰₀₁①𝟎𝟏𝟗߀᠐"
NON_ASCII_LETTERS = "ａｆＡｅеɑİıſ\u212a\u212bß"  # U+212A KELVIN SIGN folds to k
NON_ASCII_SPACES = "\u00a0\u1680\u2003\u2007\u200b\u2028\u2029\u202f\u205f\u3000\ufeff\x85"
FOREIGN = NON_ASCII_DIGITS + NON_ASCII_LETTERS + NON_ASCII_SPACES


def valid_token() -> str:
    return signer().issue("delete_data_asset", ARGS, STATE, now=NOW)


def check(token: str) -> Refusal | None:
    return signer().check(token, "delete_data_asset", ARGS, current=STATE, now=NOW)


def with_expiry(spelling: Callable[[str], str]) -> str:
    """The valid token with its expiry (the part after the version) spelled another way."""
    parts = valid_token().split(".")
    parts[1] = spelling(parts[1])
    return ".".join(parts)


def test_digits_of_another_script_do_not_spell_the_same_token() -> None:
    expiry = valid_token().split(".")[1]
    arabic_indic = expiry.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    assert int(arabic_indic) == int(expiry)  # what the old parser did with it
    assert check(with_expiry(lambda _: arabic_indic)) is Refusal.MALFORMED


def test_a_superscript_digit_is_refused_not_a_crash() -> None:
    assert check(with_expiry(lambda expiry: expiry[:-1] + "²")) is Refusal.MALFORMED


def test_leading_zeros_do_not_spell_the_same_token() -> None:
    assert check(with_expiry(lambda expiry: "0" + expiry)) is Refusal.MALFORMED


@pytest.mark.parametrize("char", FOREIGN, ids=[f"U+{ord(c):04X}" for c in FOREIGN])
def test_a_non_ascii_character_anywhere_in_the_token_is_refused_cleanly(char: str) -> None:
    token = valid_token()
    variants = [token[:i] + char + token[i + 1 :] for i in range(len(token))]  # each character replaced
    variants += [token[:i] + char + token[i:] for i in range(len(token) + 1)]  # inserted at each place
    assert {check(variant) for variant in variants} == {Refusal.MALFORMED}


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\r\n", "  \n"])
def test_ascii_whitespace_around_a_pasted_token_is_ignored(space: str) -> None:
    assert check(space + valid_token() + space) is None


@pytest.mark.parametrize("space", [" ", "\t", "\n", "\v", "\f"])
def test_whitespace_inside_a_token_is_refused(space: str) -> None:
    token = valid_token()
    assert {check(token[:i] + space + token[i:]) for i in range(1, len(token))} == {Refusal.MALFORMED}


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=120),
        st.builds(
            lambda part, text: ".".join(text if n == part else p for n, p in enumerate(valid_token().split("."))),
            st.integers(0, valid_token().count(".")),
            st.text(max_size=60),
        ),
    )
)
def test_no_text_crashes_the_check_and_none_but_the_token_confirms(text: str) -> None:
    outcome = check(text)
    assert outcome is None or isinstance(outcome, Refusal)
    if outcome is None:
        assert text.strip(" \t\r\n") == valid_token()
