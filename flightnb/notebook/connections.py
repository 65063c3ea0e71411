"""The kernel's Flight connections: named, one active, from the magic, the environment or a file.

A :class:`Connection` is a location plus client options and a blocking client (whose
channels live on flightnb's loop thread, so background reads can use it too). The
:class:`Connections` registry of a shell holds them by alias and marks one active; it is kept
per shell outside the magic, so ``%reload_ext flightnb`` keeps it.

Where connections come from:

* ``%flight connect URI [--alias NAME] ...``;
* ``FLIGHTNB_URI`` (with ``FLIGHTNB_TOKEN``, read when the connection opens): the connection
  ``env``, used when nothing else is active;
* a TOML file (``FlightMagic.connections_file``, by default ``$FLIGHTNB_CONNECTIONS`` or
  ``~/.config/flightnb/connections.toml``)::

      default = "warehouse"            # active when no connection was chosen

      [connections.warehouse]
      uri = "grpc+tls://flight.example:443"
      token_env = "WAREHOUSE_TOKEN"    # secrets only by environment variable name

      [connections.local]
      uri = "grpc://localhost:8815"
      user = "alice"
      password_env = "LOCAL_PASSWORD"
      headers = {"x-tenant" = "blue"}
      headers_env = {"x-api-key" = "LOCAL_API_KEY"}
      # gRPC channel arguments, e.g. keepalive through a NAT that drops idle connections
      grpc_options = {"grpc.keepalive_time_ms" = 60000, "grpc.keepalive_permit_without_calls" = 1}

Credentials never come from text that is saved with the notebook or the file: a credential
header, a token or a password typed in a cell or written in the file is refused with a
message saying where it goes instead.
"""

from __future__ import annotations

import getpass
import os
import sys
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from flightnb.client.sync import FlightClient
from flightnb.errors import (
    FlightError,
    FlightNotImplementedError,
    FlightUnauthenticatedError,
    FlightUnauthorizedError,
)
from flightnb.progress.state import error_text
from flightnb.transport.grpc_options import GrpcOptionValue, check_grpc_options
from flightnb.transport.secret_headers import CREDENTIAL_HEADERS, looks_like_credential

__all__ = [
    "CONNECTIONS_FILE_ENV",
    "CREDENTIAL_HEADERS",
    "Connection",
    "ConnectionSpec",
    "Connections",
    "default_connections_file",
    "looks_like_credential",
    "refuse_secret_header",
    "registry_for",
]

ENV_URI = "FLIGHTNB_URI"
ENV_TOKEN = "FLIGHTNB_TOKEN"
ENV_ALIAS = "env"
CONNECTIONS_FILE_ENV = "FLIGHTNB_CONNECTIONS"
DEFAULT_ALIAS = "default"
CHECK_SECONDS = 5.0

WHERE_SECRETS_GO = (
    "credentials never come from cell text: use --token-env VAR, --user NAME "
    "--password-env VAR, --header-env K=VAR, or a connections file that names "
    "environment variables"
)


def refuse_secret_header(name: str, value: str, where: str) -> None:
    """UsageError if header ``name: value`` looks like a credential (never echoing the value)."""
    if looks_like_credential(name, value):
        raise UsageError(f"{where}: header {name!r} looks like a credential; {WHERE_SECRETS_GO}")


def default_connections_file() -> Path:
    """``$FLIGHTNB_CONNECTIONS``, else ``$XDG_CONFIG_HOME/flightnb/connections.toml``."""
    configured = os.environ.get(CONNECTIONS_FILE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join("~", ".config")
    return Path(base).expanduser() / "flightnb" / "connections.toml"


@dataclass(frozen=True)
class ConnectionSpec:
    """How to open a connection; holds environment variable *names*, never secrets."""

    alias: str
    uri: str
    source: str = "magic"
    token_env: str | None = None
    ask_token: bool = False
    user: str | None = None
    password_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    headers_env: Mapping[str, str] = field(default_factory=dict)
    tls_roots: str | None = None
    insecure_skip_verify: bool = False
    #: Checked gRPC channel arguments; not shown (a proxy URL may carry a password).
    grpc_options: tuple[tuple[str, GrpcOptionValue], ...] = field(default=(), repr=False)

    @property
    def auth(self) -> str:
        """The kind of login, for listings: ``token``, ``basic``, ``headers`` or ``none``."""
        if self.user:
            return f"basic ({self.user})"
        if self.token_env or self.ask_token:
            return "token"
        if self.headers_env:
            return "headers"
        return "none"

    def client_options(self, where: str) -> dict[str, Any]:
        """Keyword arguments for :class:`FlightClient`; secrets are read here, at open time."""
        options: dict[str, Any] = {}
        if self.token_env:
            token = os.environ.get(self.token_env)
            if not token:
                raise UsageError(f"{where}: environment variable {self.token_env} is not set")
            options["token"] = token
        elif self.ask_token:
            options["token"] = getpass.getpass("Flight token: ")
        headers = dict(self.headers)
        for name, variable in self.headers_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise UsageError(f"{where}: environment variable {variable} is not set")
            headers[name] = value
        if headers:
            options["headers"] = headers
        if self.tls_roots:
            try:
                options["tls_root_certs"] = Path(self.tls_roots).expanduser().read_bytes()
            except OSError as exc:
                raise UsageError(f"{where}: cannot read --tls-roots: {exc.strerror}") from None
        if self.insecure_skip_verify:
            options["disable_server_verification"] = True
        if self.grpc_options:
            options["grpc_options"] = self.grpc_options
        return options

    def password(self, where: str) -> str:
        if self.password_env:
            password = os.environ.get(self.password_env)
            if not password:
                raise UsageError(f"{where}: environment variable {self.password_env} is not set")
            return password
        password = getpass.getpass(f"Password for {self.user}: ")
        if not password:
            raise UsageError(f"{where}: no password given")
        return password


class Connection:
    """An open connection: its spec and a blocking client (channels on flightnb's loop)."""

    def __init__(self, spec: ConnectionSpec, client: FlightClient) -> None:
        self.spec = spec
        self.client = client
        self.speaks_sql: bool | None = None  # learnt on the first Flight SQL call
        self.flight_paths: list[str] = []  # for tab completion, from %flight list
        self.table_names: list[str] = []  # for tab completion, from %flight tables

    @property
    def alias(self) -> str:
        return self.spec.alias

    @property
    def uri(self) -> str:
        return self.spec.uri

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        headers = sorted({*self.spec.headers, *self.spec.headers_env})
        return f"Connection({self.alias!r}, {self.uri!r}, auth={self.spec.auth}, headers={headers})"


def open_connection(
    spec: ConnectionSpec, *, check: bool, timeout: float = CHECK_SECONDS
) -> Connection:
    """Open ``spec``: make the client, log in, and (``check``) ask the server something cheap.

    Raises a one-line UsageError saying what failed; nothing is left open then.
    """
    where = f"%flight connect {spec.alias}" if spec.source != "magic" else "%flight connect"
    options = spec.client_options(where)
    password = spec.password(where) if spec.user else None
    try:
        client = FlightClient(spec.uri, **options)
    except FlightError as exc:
        raise UsageError(f"{where}: {exc.message}") from None
    try:
        if spec.user and password is not None:
            try:
                client.handshake(spec.user, password, timeout=timeout)
            except (FlightUnauthenticatedError, FlightUnauthorizedError) as exc:
                raise UsageError(
                    f"{where}: {spec.uri} refused the login of {spec.user!r} ({error_text(exc)})"
                ) from None
        if check:
            _check(client, spec, where, timeout)
    except BaseException:
        client.close()
        raise
    return Connection(spec, client)


def _check(client: FlightClient, spec: ConnectionSpec, where: str, timeout: float) -> None:
    """One cheap call (ListActions) with a short deadline: is anyone there, do they let us in?"""
    try:
        client.list_actions(timeout=timeout)
    except FlightNotImplementedError:
        return  # the server answered: it just has no actions
    except (FlightUnauthenticatedError, FlightUnauthorizedError) as exc:
        hint = (
            "check the credentials"
            if spec.auth != "none"
            else "it wants credentials: --token-env VAR or --user NAME --password-env VAR"
        )
        raise UsageError(f"{where}: {spec.uri} refused us ({error_text(exc)}); {hint}") from None
    except FlightError as exc:
        if exc.code in ("UNAVAILABLE", "DEADLINE_EXCEEDED", "CANCELLED"):
            raise UsageError(
                f"{where}: cannot reach {spec.uri} ({error_text(exc)}); nothing was connected "
                "(--no-check connects without asking the server)"
            ) from None
        # Any other answer (an error of the server's own) shows someone is there.


class Connections:
    """A shell's connections by alias, one of them active; specs from the env and the file."""

    def __init__(self) -> None:
        self._open: dict[str, Connection] = {}
        self._known: dict[str, ConnectionSpec] = {}
        self.active: str | None = None
        self.file: Path | None = None
        self._file_default: str | None = None
        self._file_error: str | None = None

    # -- where specs come from ------------------------------------------------------------

    def load_sources(self, file: Path | None) -> None:
        """(Re)read ``FLIGHTNB_URI`` and the connections file; open connections stay open."""
        self._known = {a: s for a, s in self._known.items() if s.source == "magic"}
        uri = os.environ.get(ENV_URI)
        if uri:
            token_env = ENV_TOKEN if os.environ.get(ENV_TOKEN) else None
            self._known[ENV_ALIAS] = ConnectionSpec(
                ENV_ALIAS, uri, source=f"${ENV_URI}", token_env=token_env
            )
        self.file, self._file_default, self._file_error = file, None, None
        if file is not None and file.is_file():
            try:
                specs, default = read_connections_file(file)
            except UsageError as exc:
                self._file_error = str(exc)  # reported when a connection is asked for
            else:
                self._known.update(specs)
                self._file_default = default

    def spec(self, alias: str) -> ConnectionSpec | None:
        return self._known.get(alias)

    def remember(self, spec: ConnectionSpec) -> None:
        self._known[spec.alias] = spec

    @property
    def aliases(self) -> list[str]:
        return sorted(set(self._known) | set(self._open))

    # -- open connections -----------------------------------------------------------------

    def add(self, connection: Connection) -> None:
        """Keep ``connection`` under its alias (closing the one it replaces) and activate it."""
        previous = self._open.pop(connection.alias, None)
        if previous is not None and previous is not connection:
            previous.close()
        self._open[connection.alias] = connection
        self._known[connection.alias] = connection.spec
        self.active = connection.alias

    def use(self, alias: str, *, check: bool = True) -> Connection:
        connection = self.get(alias, check=check)
        self.active = alias
        return connection

    def get(self, alias: str | None = None, *, check: bool = False) -> Connection:
        """The connection ``alias`` (default: the active one), opened from its spec if needed."""
        name = alias or self.active or self._fallback()
        if name is None:
            hint = f" ({self._file_error})" if self._file_error else ""
            raise UsageError(
                "%flight: no connection; run %flight connect URI, set FLIGHTNB_URI, or name "
                f"connections in {self.file or default_connections_file()}{hint}"
            )
        connection = self._open.get(name)
        if connection is not None:
            return connection
        spec = self._known.get(name)
        if spec is None:
            raise UsageError(
                f"%flight: no connection named {name!r}; known: {', '.join(self.aliases) or 'none'}"
            )
        connection = open_connection(spec, check=check)
        self._open[name] = connection
        if alias is None:
            self.active = name
        return connection

    def _fallback(self) -> str | None:
        """The connection used when none was chosen: the file's default, else FLIGHTNB_URI."""
        if self._file_default and self._file_default in self._known:
            return self._file_default
        if ENV_ALIAS in self._known:
            return ENV_ALIAS
        return None

    def open_connections(self) -> Iterator[Connection]:
        return iter(list(self._open.values()))

    def rows(self) -> list[list[Any]]:
        """active marker, alias, URI, auth kind, where it came from, open?: never a secret."""
        current = self.active or self._fallback()
        rows = []
        for alias in self.aliases:
            connection = self._open.get(alias)
            spec = connection.spec if connection is not None else self._known[alias]
            mark = "*" if alias == current else ""
            state = "open" if connection is not None else ""
            rows.append([mark, alias, spec.uri, spec.auth, spec.source, state])
        return rows

    def close_all(self) -> None:
        for connection in self._open.values():
            connection.close()
        self._open.clear()
        self.active = None


_registries: weakref.WeakKeyDictionary[Any, Connections] = weakref.WeakKeyDictionary()


def registry_for(shell: Any) -> Connections:
    """The connections of ``shell``: one registry per shell, kept across ``%reload_ext``."""
    registry = _registries.get(shell)
    if registry is None:
        registry = _registries[shell] = Connections()
    return registry


# -- the TOML file ------------------------------------------------------------------------

_SECRET_KEYS = ("token", "password", "secret", "api_key")
_ALLOWED_KEYS = {
    "uri",
    "token_env",
    "user",
    "password_env",
    "headers",
    "headers_env",
    "tls_roots",
    "insecure_skip_verify",
    "grpc_options",
}


def _toml_loads(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise UsageError(
                "%flight: reading a connections file on Python 3.10 needs tomli (pip install tomli)"
            ) from None
    loaded: dict[str, Any] = tomllib.loads(text)
    return loaded


def read_connections_file(path: Path) -> tuple[dict[str, ConnectionSpec], str | None]:
    """The named connections of ``path`` and its ``default``; UsageError on a bad file."""
    where = f"%flight: {path}"
    try:
        data = _toml_loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror}") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise UsageError(f"{where}: not valid TOML ({exc})") from None
    table = data.get("connections", {})
    if not isinstance(table, dict):
        raise UsageError(f"{where}: [connections] must be a table of named connections")
    specs = {}
    for alias, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("uri"), str):
            raise UsageError(f"{where}: connection {alias!r} needs a uri")
        for key in entry:
            if key in _SECRET_KEYS:
                raise UsageError(
                    f"{where}: connection {alias!r} has {key!r}; secrets are named by "
                    f'environment variable ({key}_env = "VAR"), never written in the file'
                )
            if key not in _ALLOWED_KEYS:
                raise UsageError(
                    f"{where}: connection {alias!r} has an unknown key {key!r} "
                    f"(known: {', '.join(sorted(_ALLOWED_KEYS))})"
                )
        headers = {str(k): str(v) for k, v in dict(entry.get("headers", {})).items()}
        for name, value in headers.items():
            refuse_secret_header(name, value, f"{where}: connection {alias!r}")
        try:
            grpc_options = check_grpc_options(entry.get("grpc_options"))
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{where}: connection {alias!r}: {exc}") from None
        specs[alias] = ConnectionSpec(
            alias=alias,
            uri=entry["uri"],
            source=str(path),
            token_env=entry.get("token_env"),
            user=entry.get("user"),
            password_env=entry.get("password_env"),
            headers=headers,
            headers_env={str(k): str(v) for k, v in dict(entry.get("headers_env", {})).items()},
            tls_roots=entry.get("tls_roots"),
            insecure_skip_verify=bool(entry.get("insecure_skip_verify", False)),
            grpc_options=grpc_options,
        )
    default = data.get("default")
    if default is not None and default not in specs:
        raise UsageError(f"{where}: default {default!r} is not one of its connections")
    return specs, default
