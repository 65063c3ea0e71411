"""``python -m flightnb serve``: run the DuckDB Flight SQL server from the command line.

Secrets never travel on the command line (where ``ps`` shows them to every user): the token
comes from an environment variable (``--token-env``) or a file (``--token-file``), the Basic
password from an environment variable (``--basic-password-env``); without either, the server
makes a random token and leaves it in its runtime file for its owner's clients.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from flightnb.server.duckdb_server import FlightSqlServer
from flightnb.server.sample_data import DEFAULT_SIZE
from flightnb.server.service import (
    DEFAULT_MAX_CALLS_PER_CLIENT,
    DEFAULT_MAX_MESSAGE_BYTES,
    parse_listen_location,
)

__all__ = ["DEFAULT_PORT", "build_parser", "serve", "serve_main"]

DEFAULT_PORT = 8815
"""The port of ``python -m flightnb serve``, the one the README's examples use."""


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    database: str | duckdb.DuckDBPyConnection | None = None,
    sample_size: int | None = DEFAULT_SIZE,
    endpoints: int = 1,
    block: bool = True,
    token: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    auth: bool = True,
    tls_certificates: Sequence[Any] | None = None,
    allow_dirs: Sequence[str] = (),
    query_timeout: float | None = None,
    max_result_bytes: int | None = None,
    max_calls_per_client: int = DEFAULT_MAX_CALLS_PER_CLIENT,
) -> FlightSqlServer:
    """Start a Flight SQL server; by default on an in-memory database with sample data.

    Parameters
    ----------
    host : str, default "127.0.0.1"
        Interface to listen on.
    port : int, default 0
        Port to listen on; 0 picks a free one (read it from ``server.port``).
    database : str or duckdb.DuckDBPyConnection, optional
        A DuckDB file or connection to serve. Without one, an in-memory database is used.
    sample_size : int or None, default 1_000_000
        Rows of the sample ``trips`` table loaded into an in-memory database; None loads
        nothing. Ignored when ``database`` is given.
    endpoints : int, default 1
        Endpoints (row ranges) per table flight.
    block : bool, default True
        Serve until interrupted; with False, return the running server at once.
    token : str, optional
        The bearer token calls must carry; without it (and without ``basic_auth``) a random
        one is made and left where this OS user's flightnb clients find it.
    basic_auth : (str, str), optional
        User name and password a Handshake trades for a session token.
    auth : bool, default True
        False: no credentials needed (loopback and unix sockets only; warns).
    tls_certificates : sequence of (cert, key), optional
        PEM certificate chain and key; needed beyond loopback (the location becomes
        ``grpc+tls://``).
    allow_dirs : sequence of str, optional
        Directories queries may read and write; no other file of the host.
    query_timeout : float, optional
        Seconds a query may run (DEADLINE_EXCEEDED after).
    max_result_bytes : int, optional
        The largest result a query may return (RESOURCE_EXHAUSTED beyond).
    max_calls_per_client : int, default 32
        Calls one client may have running at once.

    Returns
    -------
    FlightSqlServer
        The server, already shut down when ``block`` was True.

    Examples
    --------
    >>> server = serve(sample_size=1000, block=False)
    >>> server.location  # doctest: +ELLIPSIS
    'grpc://127.0.0.1:...'
    >>> server.shutdown()
    """
    scheme = "grpc+tls" if tls_certificates else "grpc"
    server = FlightSqlServer(
        f"{scheme}://{host}:{port}",
        database=":memory:" if database is None else database,
        sample_size=sample_size if database is None else None,
        endpoints=endpoints,
        token=token,
        basic_auth=basic_auth,
        auth=auth,
        tls_certificates=tls_certificates,
        allow_dirs=allow_dirs,
        query_timeout=query_timeout,
        max_result_bytes=max_result_bytes,
        max_calls_per_client=max_calls_per_client,
    )
    if block:
        try:
            server.serve()
        finally:
            server.shutdown()
    return server


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m flightnb serve``."""
    parser = argparse.ArgumentParser(
        prog="python -m flightnb serve",
        description="Serve a DuckDB database over Arrow Flight SQL.",
    )
    parser.add_argument(
        "--db", metavar="FILE", help="DuckDB database file (default: in-memory with sample data)"
    )
    parser.add_argument("--host", help="interface (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        help=f"port (default: {DEFAULT_PORT}); 0 picks a free one",
    )
    parser.add_argument(
        "--location",
        metavar="URI",
        help="where to listen, as the location clients use, instead of --host and --port: "
        "grpc://HOST:PORT, grpc+tls://HOST:PORT or unix:///path/to/socket",
    )
    parser.add_argument(
        "--sample-size",
        type=int,
        default=DEFAULT_SIZE,
        metavar="ROWS",
        help=f"rows of the sample trips table (default: {DEFAULT_SIZE}); "
        "0 for no sample data; ignored with --db",
    )
    parser.add_argument("--read-only", action="store_true", help="open --db read-only")
    parser.add_argument(
        "--endpoints",
        type=int,
        default=1,
        metavar="N",
        help="split each table flight into N endpoints (row ranges); default 1",
    )
    security = parser.add_argument_group(
        "security",
        "By default every call needs a random token, which this OS user's flightnb clients "
        "find in a private runtime file; queries see the database and nothing else of the host.",
    )
    security.add_argument(
        "--token-env", metavar="NAME", help="take the bearer token from environment variable NAME"
    )
    security.add_argument(
        "--token-file", metavar="PATH", help="take the bearer token from the file PATH"
    )
    security.add_argument(
        "--basic-user", metavar="USER", help="accept Basic logins (Handshake) of USER"
    )
    security.add_argument(
        "--basic-password-env",
        metavar="NAME",
        default="FLIGHTNB_SERVER_PASSWORD",
        help="environment variable holding --basic-user's password "
        "(default: FLIGHTNB_SERVER_PASSWORD)",
    )
    security.add_argument(
        "--no-auth",
        action="store_true",
        help="serve every call without credentials (loopback and unix sockets only)",
    )
    security.add_argument("--tls-cert", metavar="PEM", help="TLS certificate chain file")
    security.add_argument("--tls-key", metavar="PEM", help="TLS private key file")
    security.add_argument(
        "--allow-dir",
        metavar="DIR",
        action="append",
        default=[],
        help="let queries read and write files in DIR (repeatable); no other file is reachable",
    )
    security.add_argument(
        "--query-timeout", type=float, metavar="SECONDS", help="stop queries running longer"
    )
    security.add_argument(
        "--max-result-bytes", type=int, metavar="BYTES", help="refuse results larger than this"
    )
    security.add_argument(
        "--max-message-bytes",
        type=int,
        default=DEFAULT_MAX_MESSAGE_BYTES,
        metavar="BYTES",
        help="refuse client messages (e.g. uploaded batches) larger than this "
        f"(default: {DEFAULT_MAX_MESSAGE_BYTES >> 20} MiB)",
    )
    security.add_argument(
        "--max-calls-per-client",
        type=int,
        default=DEFAULT_MAX_CALLS_PER_CLIENT,
        metavar="N",
        help=f"calls one client may run at once (default: {DEFAULT_MAX_CALLS_PER_CLIENT})",
    )
    return parser


def _secrets(args: argparse.Namespace) -> tuple[str | None, tuple[str, str] | None]:
    """The token and Basic credentials the arguments point at; ValueError in one line."""
    if args.token_env and args.token_file:
        raise ValueError("give --token-env or --token-file, not both")
    token = None
    if args.token_env:
        token = os.environ.get(args.token_env, "").strip()
        if not token:
            raise ValueError(
                f"--token-env: environment variable {args.token_env} is empty or unset"
            )
    if args.token_file:
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(
                f"--token-file: cannot read {args.token_file}: {exc.strerror}"
            ) from None
        if not token:
            raise ValueError(f"--token-file: {args.token_file} is empty")
    basic = None
    if args.basic_user:
        password = os.environ.get(args.basic_password_env, "")
        if not password:
            raise ValueError(
                f"--basic-user needs its password in environment variable {args.basic_password_env}"
            )
        basic = (args.basic_user, password)
    if args.no_auth and (token or basic):
        raise ValueError("--no-auth takes no token or Basic credentials")
    return token, basic


def _tls(args: argparse.Namespace) -> list[tuple[bytes, bytes]] | None:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    if args.tls_cert is None:
        return None
    try:
        return [(Path(args.tls_cert).read_bytes(), Path(args.tls_key).read_bytes())]
    except OSError as exc:
        raise ValueError(f"cannot read {exc.filename}: {exc.strerror}") from None


def _location(args: argparse.Namespace, *, tls: bool) -> str:
    """The listen location the arguments give; ValueError in one line."""
    if args.location is None:
        host = "127.0.0.1" if args.host is None else args.host
        port = DEFAULT_PORT if args.port is None else args.port
        return f"{'grpc+tls' if tls else 'grpc'}://{host}:{port}"
    if args.host is not None or args.port is not None:
        raise ValueError("give --location or --host and --port, not both")
    listen = parse_listen_location(args.location)
    if listen.tls and not tls:
        raise ValueError("a grpc+tls:// --location needs --tls-cert and --tls-key")
    if tls and not listen.tls:
        raise ValueError("--tls-cert and --tls-key need a grpc+tls:// --location")
    return str(args.location)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m flightnb serve``; returns the exit status.

    Prints the server's location, then serves until Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.endpoints < 1:
        parser.error("--endpoints must be at least 1")
    try:
        token, basic = _secrets(args)
        tls = _tls(args)
    except ValueError as exc:
        print(f"flightnb serve: {exc}", file=sys.stderr)
        return 2
    try:
        location = _location(args, tls=tls is not None)
    except ValueError as exc:
        print(f"flightnb serve: {exc}", file=sys.stderr)
        return 2
    options: dict[str, Any] = {
        "endpoints": args.endpoints,
        "token": token,
        "basic_auth": basic,
        "auth": not args.no_auth,
        "tls_certificates": tls,
        "allow_dirs": args.allow_dir,
        "query_timeout": args.query_timeout,
        "max_result_bytes": args.max_result_bytes,
        "max_calls_per_client": args.max_calls_per_client,
        "max_message_bytes": args.max_message_bytes,
    }
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            if args.db is not None:
                server = FlightSqlServer(
                    location, database=args.db, read_only=args.read_only, **options
                )
            else:
                server = FlightSqlServer(location, sample_size=args.sample_size or None, **options)
    except PermissionError as exc:  # the runtime directory is not private
        print(f"flightnb serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        hint = "" if parse_listen_location(location).socket_path else "; --port 0 picks a free one"
        print(f"{exc}{hint}", file=sys.stderr)
        return 1
    except (ValueError, duckdb.Error) as exc:
        print(f"flightnb serve: {exc}", file=sys.stderr)
        return 2
    # From here on Ctrl-C stops the server cleanly, even while the lines below are printed
    # (a script may interrupt as soon as it has read the location). So does SIGTERM (`kill`,
    # service managers), which would otherwise end the process with the runtime file left.
    previous = _stop_on_sigterm()
    try:
        for warning in warned:  # one line each, without the source line Python would add
            print(f"flightnb serve: warning: {warning.message}", file=sys.stderr, flush=True)
        print(f"Flight SQL server listening on {server.location}", flush=True)
        if server.runtime_file is not None:
            print(
                f"its token is in {server.runtime_file} (readable by you only; flightnb finds it)",
                flush=True,
            )
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> Any:
    """Make SIGTERM raise KeyboardInterrupt; returns the handler it replaced (None if not set).

    Only the main thread may set signal handlers; elsewhere nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


if __name__ == "__main__":
    sys.exit(serve_main())
