"""``python -m flightnb serve``: run the DuckDB Flight SQL server from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import duckdb

from flightnb.server.duckdb_server import FlightSqlServer
from flightnb.server.sample_data import DEFAULT_SIZE

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
    server = FlightSqlServer(
        f"grpc://{host}:{port}",
        database=":memory:" if database is None else database,
        sample_size=sample_size if database is None else None,
        endpoints=endpoints,
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
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default: {DEFAULT_PORT}); 0 picks a free one",
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
    return parser


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m flightnb serve``; returns the exit status.

    Prints the server's location, then serves until Ctrl-C.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.endpoints < 1:
        parser.error("--endpoints must be at least 1")
    location = f"grpc://{args.host}:{args.port}"
    try:
        if args.db is not None:
            server = FlightSqlServer(
                location, database=args.db, read_only=args.read_only, endpoints=args.endpoints
            )
        else:
            server = FlightSqlServer(
                location, sample_size=args.sample_size or None, endpoints=args.endpoints
            )
    except OSError as exc:
        print(f"{exc}; --port 0 picks a free one", file=sys.stderr)
        return 1
    print(f"Flight SQL server listening on {server.location}", flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(serve_main())
