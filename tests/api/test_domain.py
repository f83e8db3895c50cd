"""One rule for a usable Code Ocean URL, in words that never repeat the value; the client applies it as it is."""

from __future__ import annotations

import pytest

from co_mcp.api import CodeOceanClient
from co_mcp.api.domain import domain_problem, normalise_domain
from co_mcp.errors import InvalidArgumentError

PROBLEMS = [
    ("cop_pasted_token", "this is not a URL (an access token belongs in CODEOCEAN_TOKEN)"),
    ("codeocean.example.com", "this is not a URL"),
    ("ftp://codeocean.example.com", "it must start with https://"),
    ("https://me:pw@codeocean.example.com", "must not contain a user name or password"),
    ("https://@codeocean.example.com", "must not contain a user name or password"),
    ("https://", "it has no host name"),
    ("", "is empty"),
    ("   ", "is empty"),
]


@pytest.mark.parametrize(("domain", "says"), PROBLEMS)
def test_each_domain_problem_is_said_in_words(domain: str, says: str) -> None:
    problem = domain_problem(domain)
    assert problem is not None
    assert says in problem


@pytest.mark.parametrize("domain", ["https://codeocean.example.com", "http://127.0.0.1:8765/", " https://co.org "])
def test_a_usable_domain_has_no_problem(domain: str) -> None:
    assert domain_problem(domain) is None


@pytest.mark.parametrize(
    ("domain", "normal"),
    [
        (" https://co.example.org/ ", "https://co.example.org"),
        ("https://co.example.org/api/v1", "https://co.example.org"),
        ("https://co.example.org/api/v1/", "https://co.example.org"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
    ],
)
def test_a_usable_domain_is_normalised_to_the_url_the_api_lives_under(domain: str, normal: str) -> None:
    assert normalise_domain(domain) == normal


@pytest.mark.parametrize("domain", [domain for domain, _ in PROBLEMS])
def test_the_client_refuses_a_domain_in_the_rules_own_words(domain: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        CodeOceanClient(domain, "cop_domain_token")
    assert str(caught.value) == f"domain: {domain_problem(domain)}"
