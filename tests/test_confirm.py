"""Confirmation tokens: each way a token must be refused, and the one way it is accepted."""

from __future__ import annotations

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
