"""Credentials and per-call headers: bearer tokens, basic auth, and session cookies."""

from __future__ import annotations

import asyncio
import base64
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from http.cookies import CookieError, SimpleCookie

from flightnb.errors import FlightUnauthenticatedError

Metadata = list[tuple[str, str | bytes]]
Headers = Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]] | None
#: A callable returning a fresh bearer token (sync, or async returning an awaitable).
TokenSource = Callable[[], "str | Awaitable[str]"]


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


def authorization_value(token: str) -> str:
    """The ``authorization`` header that carries ``token``.

    A token with a space in it already names its scheme (``"Bearer abc"``, ``"Basic ..."``,
    Deephaven's ``"io.deephaven.authentication.psk.PskAuthenticationHandler key"``) and is
    sent as it is, as ADBC sends its ``authorization_header`` option; a bare token (bearer
    tokens never contain spaces) is sent as ``Bearer <token>``.

    Examples
    --------
    >>> authorization_value("abc")
    'Bearer abc'
    >>> authorization_value("Basic YTpi")
    'Basic YTpi'
    """
    token = token.strip()
    return token if " " in token else f"Bearer {token}"


class Credentials:
    """The login of one client: the credential calls carry, and what renews it.

    A token goes out in the ``authorization`` header (see :func:`authorization_value`); a
    token a handshake returned in its payload goes out as ``auth-token-bin``. A token
    callable is asked for the first token before the first call and again when the server
    rejects the current one.

    Servers may issue or rotate the credential on any call (Deephaven answers every call
    with ``authorization: Bearer <session>`` and wants it back on the next one): what a
    server returns in ``authorization`` replaces the client's credential (:meth:`rotate`),
    as ADBC's Flight SQL driver does. The user's own login still wins where it must: a
    call given its own ``authorization`` header sends that one and adopts nothing, and a
    token callable is asked again when the server rejects the credential it issued.

    Parameters
    ----------
    token : str or callable, optional
        A token, or a callable (sync or async) returning one.
    authorization : str, optional
        A complete ``authorization`` header value (what ``headers={"authorization": ...}``
        gave), used as the first credential.
    """

    def __init__(
        self, token: str | TokenSource | None = None, *, authorization: str | None = None
    ) -> None:
        self._source: TokenSource | None = token if callable(token) else None
        self._header = "authorization"
        self._token: Secret | None = None
        self._issued = False
        if token and not callable(token):
            self._token = Secret(authorization_value(token))
        elif authorization:
            self._token = Secret(authorization)
        self._lock = asyncio.Lock()

    @property
    def kind(self) -> str:
        """``"token"`` when calls carry a credential, else ``"none"`` (never the value)."""
        return "token" if self._token is not None or self._source is not None else "none"

    @property
    def issued(self) -> bool:
        """Whether calls carry a credential the server issued (:meth:`rotate`), not the login.

        Such a credential may name a session of this client alone (Deephaven's does): what
        the server hands out under it, such as a statement's tickets, may be refused to
        another client.
        """
        return self._issued

    @property
    def current(self) -> Secret | None:
        """The credential calls carry now (compare with it to refresh only once)."""
        return self._token

    def set(self, value: str | bytes, *, header: str = "authorization") -> None:
        """Use ``value`` from now on, in ``header`` (``authorization``: a token, see above)."""
        if header == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            value = authorization_value(text)
        self._token, self._header = Secret(value), header
        self._issued = False

    def rotate(self, authorization: str) -> None:
        """Carry the ``authorization`` value a server returned from now on (kept verbatim)."""
        current = self._token
        if (
            self._header == "authorization"
            and current is not None
            and current.reveal() == authorization
        ):
            return  # the same credential again: keep its identity for refresh()
        self._token, self._header = Secret(authorization), "authorization"
        self._issued = True

    def adopt(self, other: Credentials) -> None:
        """Take the token and token callable of ``other`` (a second client of one login)."""
        if other._token is not None or other._source is not None:
            self._token, self._header, self._source = other._token, other._header, other._source
            self._issued = other._issued

    async def ensure(self) -> None:
        """Fetch the first token from the token callable, if there is one and no token yet."""
        if self._token is None and self._source is not None:
            await self.refresh(None)

    async def refresh(self, rejected: Secret | None) -> bool:
        """Replace the ``rejected`` token with one from the token callable; False without one.

        Concurrent calls rejected with the same token share one refresh: whoever comes
        second finds the token already replaced and just retries.
        """
        if self._source is None:
            return False
        async with self._lock:
            if self._token is rejected:
                value = self._source()
                if inspect.isawaitable(value):
                    value = await value
                if not isinstance(value, str) or not value:
                    raise FlightUnauthenticatedError(
                        "the token callable returned no token", code="UNAUTHENTICATED"
                    )
                self.set(value)
        return True

    def header(self) -> Metadata:
        """The credential as call metadata (empty without a token)."""
        if self._token is None:
            return []
        return [(self._header, self._token.reveal())]

    def __repr__(self) -> str:
        return f"Credentials({self.kind})"
