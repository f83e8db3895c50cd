"""co_mcp.signin: sealed values (the sign-in's own steps are tried end to end in tests/server/test_team.py)."""

from __future__ import annotations

import time

import pytest

from co_mcp.linked import CredentialKey
from co_mcp.signin import Sealer, browser_digest


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(CredentialKey.parse(CredentialKey.generate()))


def test_a_sealed_value_opens_for_its_purpose_only(sealer: Sealer) -> None:
    sealed = sealer.seal("link ticket", {"sub": "alice@example.org"}, ttl=60)
    assert "alice" not in sealed
    opened = sealer.open("link ticket", sealed)
    assert opened is not None
    assert opened["sub"] == "alice@example.org"
    assert sealer.open("link form", sealed) is None


def test_every_sealing_differs(sealer: Sealer) -> None:
    assert sealer.seal("p", {"a": 1}, ttl=60) != sealer.seal("p", {"a": 1}, ttl=60)


def test_an_expired_value_does_not_open(sealer: Sealer, monkeypatch: pytest.MonkeyPatch) -> None:
    sealed = sealer.seal("p", {"a": 1}, ttl=60)
    later = time.time() + 61
    monkeypatch.setattr("co_mcp.signin.time.time", lambda: later)
    assert sealer.open("p", sealed) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda v: v[:-1] + ("A" if v[-1] != "A" else "B"),
        lambda v: v + "=",
        lambda v: v + ".",
        lambda v: v.replace(".", ".."),
        lambda v: " " + v,
        lambda v: v.upper(),
        lambda v: "",
    ],
)
def test_anything_but_the_exact_sealed_spelling_does_not_open(sealer: Sealer, change: object) -> None:
    sealed = sealer.seal("p", {"a": 1}, ttl=60)
    assert callable(change)
    assert sealer.open("p", change(sealed)) is None


def test_another_key_does_not_open_it(sealer: Sealer) -> None:
    other = Sealer(CredentialKey.parse(CredentialKey.generate()))
    assert other.open("p", sealer.seal("p", {"a": 1}, ttl=60)) is None


def test_the_browser_digest_names_no_cookie() -> None:
    assert "cookie-value" not in browser_digest("cookie-value")
    assert browser_digest("a") != browser_digest("b")
