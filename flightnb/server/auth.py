"""Who may call the server: a bearer token, and Basic logins that earn one.

:class:`ServerAuth` decides for every call from its headers alone. A call carries
``authorization: Bearer <token>`` with the server's token, or with a session token that a
Handshake with Basic credentials (user name and password, as an ``authorization: Basic``
header or a ``BasicAuth`` payload) handed out. Every comparison takes constant time, and no
error, log line or ``repr`` shows a secret.

Examples
--------
>>> auth = ServerAuth(token="s3cret")
>>> auth.identify({"authorization": "Bearer s3cret"})
'owner'
>>> auth
ServerAuth(token=***, basic=no)
"""

from __future__ import annotations

import base64
import binascii
import collections
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping

from flightnb._proto import Flight_pb2
from flightnb.server.errors import unauthenticated

__all__ = ["ANONYMOUS", "OWNER", "ServerAuth", "new_token"]

OWNER = "owner"
"""The identity of calls carrying the server's own token."""
ANONYMOUS = "anonymous"
"""The identity of every call to a server without authentication."""

# Session tokens handed out by Basic handshakes that are remembered; the oldest go first.
_MAX_SESSIONS = 10_000
_NO_TOKEN = (
    "this server needs a token: flightnb finds the token of your own local server by itself; "
    "other clients send 'authorization: Bearer <token>' (see the server's docs)"
)


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class ServerAuth:
    """The credentials a server accepts.

    Parameters
    ----------
    token : str, optional
        The bearer token of the server's owner.
    basic : (str, str), optional
        A user name and password a Handshake trades for a session token.
    enabled : bool, default True
        False: every call is served without any credential.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        basic: tuple[str, str] | None = None,
        enabled: bool = True,
    ) -> None:
        if enabled and not token and basic is None:
            raise ValueError("authentication needs a token or Basic credentials")
        self._token = _digest(token) if token else None
        self._basic = (_digest(basic[0]), _digest(basic[1])) if basic is not None else None
        self.enabled = enabled
        self._sessions: collections.OrderedDict[bytes, str] = collections.OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        token = "***" if self._token is not None else "none"
        basic = "yes" if self._basic is not None else "no"
        return (
            "ServerAuth(disabled)"
            if not self.enabled
            else f"ServerAuth(token={token}, basic={basic})"
        )

    def identify(self, headers: Mapping[str, str | bytes]) -> str:
        """Who makes a call with these headers: ``owner``, ``login <user>``, or ``anonymous``.

        Raises
        ------
        ServerError
            UNAUTHENTICATED when the call carries no accepted token.
        """
        if not self.enabled:
            return ANONYMOUS
        bearer = _bearer(headers)
        if bearer is None:
            raise unauthenticated(_NO_TOKEN)
        digest = _digest(bearer)
        if self._token is not None and hmac.compare_digest(digest, self._token):
            return OWNER
        with self._lock:
            session = self._sessions.get(digest)
        if session is None:
            raise unauthenticated("the token is not valid for this server")
        return session

    def check_headers(self, headers: Mapping[str, str | bytes]) -> bool:
        """Judge the credentials in a Handshake's headers, before any message is read.

        Returns True for accepted Basic or bearer credentials (and when authentication is
        off), False when the headers carry neither and a login may follow as the payload.

        Raises
        ------
        ServerError
            UNAUTHENTICATED for Basic or bearer credentials that are wrong, and for headers
            without credentials when this server takes no logins: no payload could help, so
            none is read (a stranger's message may be as large as any upload).
        """
        if not self.enabled:
            return True
        login = _basic_header(headers)
        if login is not None:
            self._verify(*login)
            return True
        if _bearer(headers) is None:
            if self._basic is None:
                raise unauthenticated(_NO_TOKEN)
            return False
        self.identify(headers)
        return True

    def handshake(
        self, headers: Mapping[str, str | bytes], payload: bytes
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """Answer a Handshake: ``(response payload, response headers)``.

        Basic credentials earn a new session token, returned both as the payload and as an
        ``authorization: Bearer`` header; a call already carrying a valid token is answered
        with nothing.

        Raises
        ------
        ServerError
            UNAUTHENTICATED for wrong or missing credentials.
        """
        if not self.enabled:
            return b"", []
        login = _basic_header(headers) or _basic_payload(payload)
        if login is not None:
            return self._login(*login)
        self.identify(headers)
        return b"", []

    def _verify(self, user: str, password: str) -> None:
        if self._basic is None:
            raise unauthenticated("this server takes no user name and password, only a token")
        user_ok = hmac.compare_digest(_digest(user), self._basic[0])
        password_ok = hmac.compare_digest(_digest(password), self._basic[1])
        if not (user_ok and password_ok):
            raise unauthenticated("wrong user name or password")

    def _login(self, user: str, password: str) -> tuple[bytes, list[tuple[str, str]]]:
        self._verify(user, password)
        token = new_token()
        with self._lock:
            # Every session of a login is the same caller: logging in again buys no more
            # calls at once (see CallSlots).
            self._sessions[_digest(token)] = f"login {user}"
            while len(self._sessions) > _MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return token.encode(), [("authorization", f"Bearer {token}")]


def _header(headers: Mapping[str, str | bytes], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _bearer(headers: Mapping[str, str | bytes]) -> str | None:
    value = _header(headers, "authorization")
    if value is None or value[:7].lower() != "bearer ":
        return None
    return value[7:].strip() or None


def _basic_header(headers: Mapping[str, str | bytes]) -> tuple[str, str] | None:
    value = _header(headers, "authorization")
    if value is None or value[:6].lower() != "basic ":
        return None
    encoded = value[6:].strip()
    encoded += "=" * (-len(encoded) % 4)  # Go clients (ADBC) leave the padding out
    try:
        user, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthenticated("the Basic credentials are not valid base64 text") from None
    return (user, password) if colon else None


def _basic_payload(payload: bytes) -> tuple[str, str] | None:
    if not payload:
        return None
    try:
        login = Flight_pb2.BasicAuth.FromString(payload)
    except Exception:
        return None
    return (login.username, login.password) if login.username else None
