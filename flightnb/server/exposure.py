"""Where a server may listen with which protection, and telling its owner's clients the token.

* A server on a loopback address or a unix socket is reachable by every user of the host, so
  it needs a token too; there, and only there, authentication may be switched off.
* A server on any other address is reachable by the network: it must speak TLS and
  authenticate its callers, else it refuses to start (:func:`check_exposure`).
* A loopback or unix-socket server with a token writes it into a runtime file of its owner
  (:func:`publish_token`), where that user's flightnb clients find it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from flightnb.runtime_files import write_entry
from flightnb.transport.locations import is_local_target, parse_location

__all__ = ["check_exposure", "is_local_location", "publish_token"]


def is_local_location(location: str) -> bool:
    """True for a unix socket, ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    return is_local_target(parse_location(location))


def check_exposure(location: str, *, tls: bool, authenticated: bool, credentials: bool) -> None:
    """Refuse a listen location whose callers the server could not tell apart or protect.

    ``authenticated``: the server checks its callers; ``credentials``: its token or Basic
    credentials were given (a generated token reaches only local clients, by runtime file).
    Warns (``UserWarning``) for a local server without authentication.

    Raises
    ------
    ValueError
        In one line, for a non-loopback address without TLS, or without given credentials.
    """
    if is_local_location(location):
        if not authenticated:
            warnings.warn(
                "this server accepts every call without a token: every user of this host can "
                "read and change its database",
                UserWarning,
                stacklevel=3,
            )
        return
    if not tls:
        raise ValueError(
            f"refusing to serve {location} beyond this host without TLS: give --tls-cert and "
            "--tls-key (or listen on 127.0.0.1)"
        )
    if not (authenticated and credentials):
        raise ValueError(
            f"refusing to serve {location} beyond this host without authentication: give a "
            "token (--token-env or --token-file) or --basic-user with its password"
        )


def publish_token(location: str, token: str) -> Path | None:
    """Write the runtime file of a local server with its token; None for other locations."""
    target = parse_location(location)
    if not is_local_target(target):
        return None
    if target.socket_path is not None:
        return write_entry(kind="unix", path=target.socket_path, token=token)
    assert target.port is not None
    return write_entry(kind="tcp", host=target.host, port=target.port, token=token)
