"""co_mcp.oauth: which access tokens are accepted, against keys served over real HTTP.

A real OpenID provider (tests/server/test_team.py) issues only well-formed tokens; the forged shapes an attacker
sends (alg none, HMAC keyed with the public key, a stranger's key, a missing claim) are made here with PyJWT.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from co_mcp.errors import ConfigurationError
from co_mcp.oauth import AccessTokenValidator, check_issuer
from co_mcp.sandbox.server import serving

pytestmark = pytest.mark.anyio

AUDIENCE = "https://mcp.example.org/mcp"


@dataclass
class Issuer:
    url: str
    keys: dict[str, Any]
    served: list[str]  # paths requested, in order

    def sign(self, claims: dict[str, Any], *, kid: str = "k1", alg: str = "RS256", key: Any = None) -> str:
        now = int(time.time())
        body = {"iss": self.url, "aud": AUDIENCE, "sub": "alice", "exp": now + 300, "iat": now, **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.keys[kid], algorithm=alg, headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    keys: dict[str, Any] = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
    served: list[str] = []
    state: dict[str, str] = {}

    def jwks() -> dict[str, Any]:
        found = []
        for kid, key in keys.items():
            algorithm = ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else RSAAlgorithm
            found.append({**json.loads(algorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"})
        return {"keys": found}

    async def openid(request: Request) -> JSONResponse:
        served.append(request.url.path)
        return JSONResponse({"issuer": state["url"], "jwks_uri": f"{state['url']}/jwks"})

    async def keyset(request: Request) -> JSONResponse:
        served.append(request.url.path)
        return JSONResponse(jwks())

    app = Starlette(routes=[Route("/.well-known/openid-configuration", openid), Route("/jwks", keyset)])
    with serving(app) as url:
        state["url"] = url
        yield Issuer(url, keys, served)


async def validate(issuer: Issuer, token: str, *, audience: str = AUDIENCE) -> Any:
    async with httpx2.AsyncClient() as http:
        return await AccessTokenValidator(issuer.url, audience, http).validate(token)


async def test_a_token_signed_by_the_issuer_for_this_audience_is_accepted(issuer: Issuer) -> None:
    valid = await validate(issuer, issuer.sign({"scope": "data_assets:read data_assets:write", "client_id": "c1"}))
    assert (valid.issuer, valid.subject, valid.client_id) == (issuer.url, "alice", "c1")
    assert valid.scopes == ("data_assets:read", "data_assets:write")


async def test_scp_lists_count_as_scopes(issuer: Issuer) -> None:
    valid = await validate(issuer, issuer.sign({"scp": ["data_assets:read"], "scope": None}))
    assert valid.scopes == ("data_assets:read",)


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "https://other.example.org/mcp"}, "another audience"),
        ({"iss": "https://evil.example.org"}, "another issuer"),
        ({"exp": int(time.time()) - 120}, "expired beyond the leeway"),
        ({"exp": None}, "no expiry"),
        ({"sub": None}, "no subject"),
        ({"aud": None}, "no audience"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ],
)
async def test_tokens_with_wrong_claims_are_refused(issuer: Issuer, claims: dict[str, Any], why: str) -> None:
    assert await validate(issuer, issuer.sign(claims)) is None, why


async def test_a_token_signed_with_a_strangers_key_is_refused(issuer: Issuer) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await validate(issuer, issuer.sign({}, key=stranger)) is None


async def test_alg_none_is_refused(issuer: Issuer) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "k1"}).encode()).rstrip(b"=")
    claims = {"iss": issuer.url, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300}
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    assert await validate(issuer, f"{header.decode()}.{body.decode()}.") is None


async def test_hmac_keyed_with_the_published_public_key_is_refused(issuer: Issuer) -> None:
    # The classic confusion: the verifier's public key used as an HMAC secret by the attacker.
    public = RSAAlgorithm.to_jwk(issuer.keys["k1"].public_key()).encode()
    forged = jwt.api_jws.PyJWS().encode(
        json.dumps({"iss": issuer.url, "aud": AUDIENCE, "sub": "alice", "exp": int(time.time()) + 300}).encode(),
        b"x" * 32,
        algorithm="HS256",
        headers={"kid": "k1"},
    )
    assert public  # the key the attacker knows
    assert await validate(issuer, forged) is None


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "x" * 20_000])
async def test_garbage_is_refused(issuer: Issuer, token: str) -> None:
    assert await validate(issuer, token) is None


async def test_a_rotated_key_is_fetched_when_a_token_names_it(issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # Fetched again at most every REFRESH_EVERY seconds; here, as soon as a token names an unknown key.
    monkeypatch.setattr("co_mcp.oauth.REFRESH_EVERY", 0.0)
    async with httpx2.AsyncClient() as http:
        validator = AccessTokenValidator(issuer.url, AUDIENCE, http)
        assert await validator.validate(issuer.sign({})) is not None
        issuer.keys["k2"] = ec.generate_private_key(ec.SECP256R1())
        assert await validator.validate(issuer.sign({}, kid="k2", alg="ES256")) is not None
    assert issuer.served.count("/jwks") == 2


async def test_unknown_kids_do_not_make_the_keys_fetched_each_time(issuer: Issuer) -> None:
    async with httpx2.AsyncClient() as http:
        validator = AccessTokenValidator(issuer.url, AUDIENCE, http)
        for _ in range(20):
            assert await validator.validate(issuer.sign({}, kid="nope", key=issuer.keys["k1"])) is None
    assert issuer.served.count("/jwks") <= 1


async def test_a_provider_that_cannot_be_reached_refuses_tokens_without_raising() -> None:
    async with httpx2.AsyncClient() as http:
        validator = AccessTokenValidator("http://127.0.0.1:9", AUDIENCE, http)
        token = jwt.encode({"sub": "a"}, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
        assert await validator.validate(token) is None


@pytest.mark.parametrize("url", ["ftp://idp.example.org", "http://idp.example.org", "idp.example.org", "https://"])
def test_issuers_must_be_https_beyond_loopback(url: str) -> None:
    with pytest.raises(ConfigurationError, match="CO_MCP_AUTH_ISSUER"):
        check_issuer(url)


def test_loopback_issuers_may_be_plain_http() -> None:
    assert check_issuer("http://127.0.0.1:8080") == "http://127.0.0.1:8080"


async def test_a_provider_that_is_down_is_asked_once_per_interval_not_once_per_call() -> None:
    asked: list[str] = []

    async def down(request: Request) -> JSONResponse:
        asked.append(request.url.path)
        return JSONResponse({"error": "down"}, status_code=503)

    app = Starlette(routes=[Route("/.well-known/openid-configuration", down)])
    with serving(app) as url:
        async with httpx2.AsyncClient() as http:
            validator = AccessTokenValidator(url, AUDIENCE, http)
            token = jwt.encode(
                {"sub": "a"}, rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256", {"kid": "k"}
            )
            for _ in range(10):
                assert await validator.validate(token) is None
    assert len(asked) == 1


async def test_an_algorithm_of_another_family_than_the_key_is_refused_not_a_crash(issuer: Issuer) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    # kid k1 is the issuer's RSA key; the token claims ES256.
    assert await validate(issuer, issuer.sign({}, kid="k1", alg="ES256", key=stranger)) is None


async def test_keys_named_by_the_metadata_over_plain_http_beyond_loopback_are_not_fetched() -> None:
    state: dict[str, str] = {}

    async def openid(request: Request) -> JSONResponse:
        return JSONResponse({"issuer": state["url"], "jwks_uri": "http://keys.example.org/jwks"})

    with serving(Starlette(routes=[Route("/.well-known/openid-configuration", openid)])) as url:
        state["url"] = url
        async with httpx2.AsyncClient() as http:
            with pytest.raises(LookupError, match="no https jwks_uri"):
                await AccessTokenValidator(url, AUDIENCE, http).signing_keys()


async def test_calls_arriving_while_the_keys_are_first_fetched_wait_for_them(issuer: Issuer) -> None:
    import anyio

    token = issuer.sign({})
    results: list[object] = []
    async with httpx2.AsyncClient() as http:
        validator = AccessTokenValidator(issuer.url, AUDIENCE, http)

        async def one() -> None:
            results.append(await validator.validate(token))

        async with anyio.create_task_group() as tasks:
            for _ in range(10):
                tasks.start_soon(one)
    assert all(result is not None for result in results)
    assert issuer.served.count("/jwks") == 1
