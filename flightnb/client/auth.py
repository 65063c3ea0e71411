"""Credentials and per-call headers: bearer tokens, basic auth, and session cookies."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from http.cookies import CookieError, SimpleCookie

Metadata = list[tuple[str, str | bytes]]


class Secret:
    """A credential that never shows itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str | bytes) -> None:
        self._value = value

    def reveal(self) -> str | bytes:
        """The secret itself, for putting on the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("credentials are not picklable")


def basic_auth_header(username: str, password: str) -> str:
    """The value of an ``authorization`` header for HTTP basic auth."""
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def normalize_headers(
    headers: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]] | None,
) -> Metadata:
    """Headers as gRPC metadata: lower-case keys; ``-bin`` keys carry bytes."""
    if not headers:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: Metadata = []
    for key, value in pairs:
        key = key.lower()
        if key.endswith("-bin"):
            out.append((key, value.encode() if isinstance(value, str) else bytes(value)))
        else:
            out.append((key, value.decode() if isinstance(value, bytes) else str(value)))
    return out


class CookieJar:
    """Cookies a server set, sent back on every later call (Flight sessions rely on them)."""

    def __init__(self) -> None:
        self._cookies: dict[str, str] = {}

    def observe(self, metadata: Iterable[tuple[str, object]] | None) -> None:
        """Take ``set-cookie`` headers from a call's initial or trailing metadata."""
        for key, value in metadata or ():
            if str(key).lower() != "set-cookie":
                continue
            jar = SimpleCookie()
            try:
                jar.load(value.decode() if isinstance(value, bytes) else str(value))
            except CookieError:
                continue
            for name, morsel in jar.items():
                if morsel["max-age"] in ("0", "-1") or not morsel.value:
                    self._cookies.pop(name, None)
                else:
                    self._cookies[name] = morsel.value

    def header(self) -> Metadata:
        if not self._cookies:
            return []
        return [("cookie", "; ".join(f"{k}={v}" for k, v in self._cookies.items()))]

    def __repr__(self) -> str:
        return f"CookieJar(names={sorted(self._cookies)})"
