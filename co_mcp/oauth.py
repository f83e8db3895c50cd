"""Team mode's access tokens: JWTs an OpenID provider issued for co-mcp, checked with PyJWT against the keys
the provider publishes.

A token is accepted only if its signature verifies with a key from the issuer's JWKS (asymmetric algorithms
only: never ``none`` or a shared-secret HMAC, which would let anyone holding the JWKS forge one), it has not
expired, its ``iss`` is the configured issuer exactly, its ``aud`` names co-mcp's public URL, and it has a
``sub``. The JWKS address comes from the issuer's OpenID configuration (or its RFC 8414 metadata); keys are
cached, and fetched again when a token names a key not yet seen (a rotation), at most once per
``REFRESH_EVERY``. Nothing here is MCP: the server wraps it in the SDK's ``TokenVerifier``.

A token co-mcp receives is only ever checked here; it is never sent anywhere, Code Ocean least of all.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio

from co_mcp.errors import ConfigurationError
from co_mcp.exposure import is_loopback

if TYPE_CHECKING:
    import httpx2
    import jwt

__all__ = ["ALGORITHMS", "AccessTokenValidator", "ValidatedToken", "check_issuer"]

log = logging.getLogger("co_mcp.oauth")

# Public-key algorithms only. HS* would make the published key a signing key; "none" signs nothing.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
# Clocks of the provider and co-mcp may disagree a little.
LEEWAY = 30
# A token naming an unknown key triggers a JWKS fetch at most this often (a flood of forged kids costs nothing).
REFRESH_EVERY = 30.0
# Keys are fetched again after this long even if every token names a known one (a revoked key drops out).
KEYS_MAX_AGE = 3600.0
MAX_TOKEN_LENGTH = 16_384
# The longest a fetch of the provider's metadata and keys may take, however slowly it answers.
FETCH_DEADLINE = 15.0


@dataclass(frozen=True)
class ValidatedToken:
    """What a valid access token says: who (issuer and subject), through which client, allowed to do what."""

    issuer: str
    subject: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: int
    audience: str
    claims: dict[str, Any]


def check_issuer(issuer: str) -> str:
    """The issuer URL as configured, or a ConfigurationError: https, or http on loopback only."""
    from urllib.parse import urlsplit

    parts = urlsplit(issuer.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError("CO_MCP_AUTH_ISSUER must be the identity provider's https:// issuer URL")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            "CO_MCP_AUTH_ISSUER must use https beyond this machine: its keys decide who may call co-mcp"
        )
    return issuer.strip()


def _scopes(claims: dict[str, Any]) -> tuple[str, ...]:
    """OAuth's ``scope`` (space-separated) or the ``scp`` some providers use (a list, or a string)."""
    value = claims.get("scope", claims.get("scp", ""))
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(str(item) for item in value)
    return ()


class AccessTokenValidator:
    """Checks access tokens for one issuer and one audience; keys are fetched with ``http`` when needed."""

    def __init__(self, issuer: str, audience: str, http: httpx2.AsyncClient) -> None:
        self.issuer = check_issuer(issuer)
        self.audience = audience
        self._http = http
        self._keys: jwt.PyJWKSet | None = None
        self._fetched_at = 0.0
        self._tried_at = float("-inf")
        self._metadata: dict[str, Any] | None = None
        self._lock = anyio.Lock()

    async def aclose(self) -> None:
        """Close the HTTP client the keys are fetched with."""
        await self._http.aclose()

    async def signing_keys(self) -> int:
        """Fetch the issuer's keys now (its metadata, then its JWKS): how many it publishes; raises if it cannot."""
        keys = await self._fetch_keys()
        return len(keys.keys)

    async def validate(self, token: str, *, audience: str | None = None) -> ValidatedToken | None:
        """The token's facts if it is valid for co-mcp (or for ``audience``: the link page's sign-in checks ID
        tokens issued to its client), else None (the reason is logged; never the token)."""
        import jwt

        if len(token) > MAX_TOKEN_LENGTH:
            log.info("access token refused: longer than %d characters", MAX_TOKEN_LENGTH)
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            log.info("access token refused: not a JWT")
            return None
        if header.get("alg") not in ALGORITHMS:
            log.info("access token refused: algorithm %r is not accepted", str(header.get("alg"))[:20])
            return None
        key = await self._key(header.get("kid"))
        if key is None:
            return None
        # A token naming an algorithm of another family than its key (ES256 against an RSA key) is refused.
        if not _fits(key, str(header["alg"])):
            log.info("access token refused: algorithm %r does not fit the key it names", str(header["alg"])[:20])
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[str(header["alg"])],
                audience=audience or self.audience,
                issuer=self.issuer,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud", "sub"], "verify_signature": True},
            )
        except Exception as exc:  # PyJWTError, and anything else a crafted token makes the library raise
            log.info("access token refused: %s", type(exc).__name__)
            return None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            log.info("access token refused: its sub is not a string")
            return None
        client_id = claims.get("client_id", claims.get("azp", ""))
        return ValidatedToken(
            issuer=self.issuer,
            subject=subject,
            client_id=str(client_id),
            scopes=_scopes(claims),
            expires_at=int(claims["exp"]),
            audience=audience or self.audience,
            claims=claims,
        )

    async def _key(self, kid: object) -> jwt.PyJWK | None:
        """The issuer's key ``kid`` (or its only key, for a token without a kid)."""
        keys = await self._current_keys(refresh=False)
        found = _find(keys, kid)
        if found is None:
            # Perhaps the provider rotated its keys since they were fetched (at most one fetch per interval).
            found = _find(await self._current_keys(refresh=True), kid)
        if found is None:
            log.info("access token refused: the issuer publishes no key %r", str(kid)[:64])
        return found

    async def _current_keys(self, *, refresh: bool) -> jwt.PyJWKSet | None:
        """The keys, fetched if there are none yet, they are old, or ``refresh``; but never fetched again within
        ``REFRESH_EVERY`` of the last try, so a provider that is down (or a flood of unknown kids) costs one
        request per interval, not one per call. Tokens whose key is known never wait for a fetch."""
        if not self._wanted(refresh=refresh):
            return self._keys  # the fast path: known keys, no waiting
        async with self._lock:  # waits for a fetch another call has under way
            if not self._wanted(refresh=refresh) or time.monotonic() - self._tried_at < REFRESH_EVERY:
                return self._keys
            self._tried_at = time.monotonic()
            try:
                with anyio.fail_after(FETCH_DEADLINE):
                    self._keys = await self._fetch_keys()
                self._fetched_at = time.monotonic()
            except Exception as exc:  # the provider down or answering nonsense: refuse tokens, keep serving
                log.error("cannot fetch the signing keys of %s: %s", self.issuer, _reason(exc))
            return self._keys

    def _wanted(self, *, refresh: bool) -> bool:
        return refresh or self._keys is None or time.monotonic() - self._fetched_at > KEYS_MAX_AGE

    async def _fetch_keys(self) -> jwt.PyJWKSet:
        import jwt

        jwks_uri = str((await self.provider_metadata())["jwks_uri"])  # fetched once, then kept
        response = await self._http.get(jwks_uri, headers={"Accept": "application/json"})
        response.raise_for_status()
        keys = jwt.PyJWKSet.from_dict(response.json())
        log.info("fetched %d signing key(s) of %s", len(keys.keys), self.issuer)
        return keys

    async def provider_metadata(self) -> dict[str, Any]:
        """The issuer's OpenID configuration (else its RFC 8414 metadata), fetched once; it must name this issuer,
        and every endpoint co-mcp uses from it must be https (or on loopback)."""
        if self._metadata is not None:
            return self._metadata
        base = self.issuer.rstrip("/")
        from urllib.parse import urlsplit

        parts = urlsplit(base)
        origin = f"{parts.scheme}://{parts.netloc}"
        candidates = [
            f"{base}/.well-known/openid-configuration",
            f"{origin}/.well-known/oauth-authorization-server{parts.path}",
        ]
        problems = []
        for url in candidates:
            try:
                response = await self._http.get(url, headers={"Accept": "application/json"})
                if response.status_code != 200:
                    problems.append(f"{url}: {response.status_code}")
                    continue
                document = response.json()
            except Exception as exc:
                problems.append(f"{url}: {_reason(exc)}")
                continue
            if not isinstance(document, dict) or document.get("issuer") != self.issuer:
                problems.append(f"{url}: names another issuer")
                continue
            # The keys decide who may call, the endpoints carry codes and tokens: over plain http, anyone on the
            # path could substitute or read them.
            insecure = [
                name
                for name in ("jwks_uri", "authorization_endpoint", "token_endpoint")
                if not isinstance(document.get(name), str) or not _secure(document[name])
            ]
            if "jwks_uri" in insecure:
                problems.append(f"{url}: no https jwks_uri")
                continue
            self._metadata = {k: v for k, v in document.items() if k not in insecure}
            return self._metadata
        raise LookupError("; ".join(problems))


def _secure(url: str) -> bool:
    """https, or http to this machine (a provider on loopback, as in tests)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))


# Which algorithms each key type signs with.
_FAMILIES = {"RSA": ("RS", "PS"), "EC": ("ES",), "OKP": ("EdDSA",)}


def _fits(key: jwt.PyJWK, alg: str) -> bool:
    """Whether the token's ``alg`` belongs to the key's type (RS/PS for RSA, ES for EC, EdDSA for OKP); a finer
    mismatch (ES384 against a P-256 key) fails verification itself."""
    return alg.startswith(_FAMILIES.get(str(key.key_type), ()))


def _find(keys: jwt.PyJWKSet | None, kid: object) -> jwt.PyJWK | None:
    if keys is None:
        return None
    signing = [key for key in keys.keys if getattr(key, "public_key_use", None) in (None, "sig")]
    if kid is None:
        return signing[0] if len(signing) == 1 else None
    return next((key for key in signing if key.key_id == kid), None)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
