"""Confirmation tokens for destructive actions: stateless, tamper-proof, bound to one previewed action.

A token is ``v2.<expiry>.<fingerprint>.<nonce>.<mac>`` where mac = HMAC-SHA256(secret, "v2" | tool |
canonical arguments | fingerprint of the previewed state | expiry | nonce). The fingerprint is a digest,
not the state; the nonce makes every token issued a different one, even for the same action on the same
state within one second. Checking needs no server-side memory, so it works with stateless HTTP and
across replicas that share the secret. A token is refused when:

* it was altered, or made with another secret (the MAC does not match);
* the arguments differ from the previewed ones (they are inside the MAC);
* the state changed since the preview (the fingerprint is recomputed from a fresh read at confirm time);
* it expired (default 5 minutes).

That a token acts at most once is the server's record of used confirmations (``co_mcp.store``): a
check here says a token is authentic and current, not that it is unused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["DEFAULT_TTL", "Refusal", "TokenSigner", "canonical", "fingerprint"]

DEFAULT_TTL = 300
_VERSION = "v2"
_NONCE_BYTES = 8  # 11 characters of unpadded base64url
# The whole token, ASCII only and one spelling per token: str.isdigit() and int() also take superscripts
# (which int() then refuses) and other scripts' digits, and int() ignores leading zeros. \Z: $ allows "\n".
_TOKEN = re.compile(
    re.escape(_VERSION)
    + r"\.(?P<expiry>[1-9][0-9]{0,11})\.(?P<state>[0-9a-f]{32})\.(?P<nonce>[A-Za-z0-9_-]{11})"
    + r"\.(?P<mac>[A-Za-z0-9_-]{43})\Z"
)
# What a model may add around a pasted token; other whitespace (U+00A0, U+3000, ...) is refused.
_ASCII_SPACE = " \t\r\n"


def canonical(value: Any) -> str:
    """One JSON spelling for equal values: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def fingerprint(state: Any) -> str:
    """A short digest of previewed state; equal states give equal fingerprints."""
    return hashlib.sha256(canonical(state).encode()).hexdigest()[:32]


class Refusal(Enum):
    MALFORMED = "the confirm_token is not one this server issued"
    MISMATCH = "the confirm_token belongs to a different action, different arguments, or another server"
    EXPIRED = "the confirm_token expired"
    CHANGED = "the data asset changed since the preview"


@dataclass(frozen=True)
class TokenSigner:
    """Issues and checks confirmation tokens with one secret."""

    # Kept out of repr: ServerOptions (and any log or traceback that shows it) would print it.
    secret: bytes = field(repr=False)
    ttl: int = DEFAULT_TTL

    @classmethod
    def random(cls, ttl: int = DEFAULT_TTL) -> TokenSigner:
        """A per-process secret: right for one server process; replicas need a shared one."""
        return cls(secrets.token_bytes(32), ttl)

    def _mac(self, tool: str, arguments: dict[str, Any], state_fingerprint: str, expiry: int, nonce: str) -> str:
        message = "\n".join([_VERSION, tool, canonical(arguments), state_fingerprint, str(expiry), nonce]).encode()
        digest = hmac.new(self.secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def issue(self, tool: str, arguments: dict[str, Any], state_fingerprint: str, *, now: float | None = None) -> str:
        expiry = int((time.time() if now is None else now) + self.ttl)
        nonce = base64.urlsafe_b64encode(secrets.token_bytes(_NONCE_BYTES)).decode().rstrip("=")
        mac = self._mac(tool, arguments, state_fingerprint, expiry, nonce)
        return f"{_VERSION}.{expiry}.{state_fingerprint}.{nonce}.{mac}"

    def check(
        self, token: str, tool: str, arguments: dict[str, Any], *, current: str, now: float | None = None
    ) -> Refusal | None:
        """None if the token confirms exactly this action on the state just read; else why not.

        The token carries the fingerprint it was issued for (under the MAC), so a stale state is told
        apart from a forged or mismatched token without any server-side memory.
        """
        parsed = _TOKEN.match(token.strip(_ASCII_SPACE))
        if parsed is None:
            return Refusal.MALFORMED
        expiry, previewed, nonce, mac = int(parsed["expiry"]), parsed["state"], parsed["nonce"], parsed["mac"]
        if not hmac.compare_digest(self._mac(tool, arguments, previewed, expiry, nonce), mac):
            return Refusal.MISMATCH
        if expiry < (time.time() if now is None else now):
            return Refusal.EXPIRED
        if not hmac.compare_digest(previewed, current):
            return Refusal.CHANGED
        return None
