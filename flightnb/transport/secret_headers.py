"""Whether a header carries a credential, judged by its name and by its value.

The notebook magic and ``flightnb doctor`` take plain headers from text that others can see
(a saved notebook, a shell's history) and refuse the ones that look like credentials, which
belong in environment variables. Both judge with this one rule.
"""

from __future__ import annotations

import re

__all__ = ["CREDENTIAL_HEADERS", "looks_like_credential"]

# Headers whose very name says they carry a credential (compared in lower case). A name that
# merely contains "auth" or "session" is judged by its value: Deephaven's
# "x-deephaven-auth-cookie-request: true" asks for a cookie and carries nothing secret.
CREDENTIAL_HEADERS = frozenset(
    {
        "api-key",
        "apikey",
        "auth-token-bin",
        "authorization",
        "cookie",
        "private-token",
        "proxy-authorization",
        "set-cookie",
        "x-access-token",
        "x-amz-security-token",
        "x-api-key",
        "x-apikey",
        "x-auth-token",
        "x-goog-api-key",
        "x-goog-iam-authorization-token",
    }
)
# Values that are credentials whatever the header is called: an auth scheme and its
# credentials, a JWT, a long hex secret or UUID, a long random-looking token.
_CREDENTIAL_VALUE = re.compile(
    r"^\s*(bearer|basic|token|digest|negotiate|apikey|api-key)\s+\S"
    r"|^\s*eyJ[\w-]*\.[\w-]+\.[\w-]*\s*$"
    r"|^\s*[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\s*$"
    r"|^\s*[0-9a-f]{32,}\s*$",
    re.IGNORECASE,
)
_TOKEN_CHARACTERS = re.compile(r"^[A-Za-z0-9_\-+/=.~]{24,}$")


def looks_like_credential(name: str, value: str) -> bool:
    """Whether header ``name: value`` carries a credential, judged by its name and value.

    Examples
    --------
    >>> looks_like_credential("authorization", "Anonymous")
    True
    >>> looks_like_credential("x-deephaven-auth-cookie-request", "true")
    False
    >>> looks_like_credential("x-anything", "Bearer abc")
    True
    """
    if name.strip().lower() in CREDENTIAL_HEADERS:
        return True
    if _CREDENTIAL_VALUE.search(value):
        return True
    text = value.strip()
    # A long run of token characters mixing letters and digits: an API key or secret.
    classes = sum(any(test(c) for c in text) for test in (str.islower, str.isupper, str.isdigit))
    return bool(_TOKEN_CHARACTERS.match(text)) and classes >= 3
