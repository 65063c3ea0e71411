"""Parsing Flight location URIs into gRPC targets: where a client connects, a server listens.

Pure parsing (it imports neither grpc nor the client), so the embedded server reads its listen
location with the same rules as the clients read theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flightnb.errors import FlightArgumentError
from flightnb.runtime_files import is_loopback_host
from flightnb.types import Location

REUSE_CONNECTION_SCHEME = "arrow-flight-reuse-connection"

_PLAINTEXT_SCHEMES = {"grpc", "grpc+tcp"}
_TLS_SCHEMES = {"grpc+tls"}
_UNIX_SCHEMES = {"grpc+unix", "unix"}


@dataclass(frozen=True)
class ChannelTarget:
    """Where and how to open a gRPC channel for one Flight location."""

    target: str
    tls: bool
    #: Host name as written in the URI (for TLS name checks and messages); "" for sockets.
    host: str

    def __str__(self) -> str:
        return self.target

    @property
    def socket_path(self) -> str | None:
        """The path of a unix socket; None for TCP."""
        return self.target[len("unix:") :] if self.target.startswith("unix:") else None

    @property
    def port(self) -> int | None:
        """The TCP port; None for a unix socket."""
        if self.socket_path is not None:
            return None
        return int(self.target.rpartition(":")[2])


def is_local_target(target: ChannelTarget) -> bool:
    """True for a unix socket or a loopback host (``localhost``, ``127.0.0.0/8``, ``::1``)."""
    return target.socket_path is not None or is_loopback_host(target.host)


def is_reuse_connection(location: Location) -> bool:
    """True for the special URI meaning "the server that answered GetFlightInfo"."""
    return location.uri.split(":", 1)[0].lower() == REUSE_CONNECTION_SCHEME


def parse_location(location: Location | str) -> ChannelTarget:
    """The gRPC target for a Flight URI.

    Accepts ``grpc://``, ``grpc+tcp://`` and ``grpc+tls://`` with ``host:port`` (IPv6 hosts in
    brackets), and ``grpc+unix://`` with an absolute socket path.
    """
    uri = location.uri if isinstance(location, Location) else str(location)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise FlightArgumentError(f"invalid Flight location {uri!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if parts.username is not None or parts.password is not None:
        # Never echo them: the URI may be printed, logged or saved in a notebook.
        raise FlightArgumentError(
            "credentials in a Flight location are not supported (and not shown here); use "
            "token=..., headers=..., or handshake(username, password)"
        )
    if scheme in _UNIX_SCHEMES:
        path = parts.netloc + parts.path if parts.netloc else parts.path
        if not path:
            raise FlightArgumentError(f"unix location {uri!r} has no socket path")
        return ChannelTarget(target=f"unix:{path}", tls=False, host="")
    if scheme in _PLAINTEXT_SCHEMES or scheme in _TLS_SCHEMES:
        if not parts.hostname:
            raise FlightArgumentError(f"Flight location {uri!r} has no host")
        if port is None:
            raise FlightArgumentError(
                f"Flight location {uri!r} has no port (write it as {scheme}://host:port)"
            )
        host = parts.hostname
        bracketed = f"[{host}]" if ":" in host else host
        return ChannelTarget(target=f"{bracketed}:{port}", tls=scheme in _TLS_SCHEMES, host=host)
    if scheme == REUSE_CONNECTION_SCHEME:
        raise FlightArgumentError(
            "arrow-flight-reuse-connection:// names the connection that returned an endpoint; "
            "it cannot open a connection of its own"
        )
    raise FlightArgumentError(
        f"unsupported Flight location scheme {parts.scheme!r} in {uri!r}; expected grpc://, "
        "grpc+tcp://, grpc+tls:// or grpc+unix://"
    )
