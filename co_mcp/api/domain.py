"""What makes a Code Ocean URL (``CODEOCEAN_DOMAIN``) usable: defined here once, for the client and the settings.

The value may hold a password (``https://user:pw@host``) or be a token pasted into the wrong setting, and a
message about it goes to a terminal, a client's log window or a support ticket: no message repeats it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from co_mcp.errors import InvalidArgumentError

__all__ = ["domain_problem", "normalise_domain"]

_EXAMPLE = "a URL such as https://codeocean.example.com"
_API_SUFFIX = "/api/v1"


def domain_problem(domain: str) -> str | None:
    """What is wrong with a Code Ocean URL, in words that never repeat it, or None if it is usable."""
    text = domain.strip()
    parts = urlsplit(text)
    if "://" not in text:
        return (
            f"must be {_EXAMPLE}, and this is not a URL (an access token belongs in CODEOCEAN_TOKEN)"
            if text
            else f"is empty: set it to {_EXAMPLE}"
        )
    if parts.scheme not in ("http", "https"):
        return f"must be {_EXAMPLE}: it must start with https:// (or http://)"
    if parts.username is not None or parts.password is not None:
        return "must not contain a user name or password: the access token belongs in CODEOCEAN_TOKEN"
    if not parts.hostname:
        return f"must be {_EXAMPLE}: it has no host name"
    return None


def normalise_domain(domain: str) -> str:
    """The URL the API lives under, without a trailing slash or ``/api/v1``; InvalidArgumentError if unusable."""
    problem = domain_problem(domain)
    if problem is not None:
        raise InvalidArgumentError("domain", problem)
    text = domain.strip().rstrip("/")
    return text.removesuffix(_API_SUFFIX)
