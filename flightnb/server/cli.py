"""``python -m flightnb serve``: run the DuckDB Flight SQL server from the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import duckdb

from flightnb.server.duckdb_server import FlightSqlServer
from flightnb.server.sample_data import DEFAULT_SIZE

__all__ = ["build_parser", "serve", "serve_main"]


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    database: str | duckdb.DuckDBPyConnection | None = None,
    sample_size: int | None = DEFAULT_SIZE,
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
    block : bool, default True
        Serve until interrupted; with False, return the running server at once.

    Returns
    -------
    FlightSqlServer
        The server, already shut down when ``block`` was True.

    Examples
    --------
    >>> server = serve(sample_size=1000, block=False)
    >>> server.location  # doctest: +SKIP
    'grpc://127.0.0.1:40123'
    >>> server.shutdown()
    """
    server = FlightSqlServer(
        f"grpc://{host}:{port}",
        database=":memory:" if database is None else database,
        sample_size=sample_size if database is None else None,
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
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument(
        "--sample-size",
        type=int,
        default=DEFAULT_SIZE,
        metavar="ROWS",
        help=f"rows of the sample trips table (default: {DEFAULT_SIZE}); "
        "0 for no sample data; ignored with --db",
    )
    parser.add_argument("--read-only", action="store_true", help="open --db read-only")
    return parser


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m flightnb serve``; returns the exit status.

    Prints the server's location, then serves until Ctrl-C.
    """
    args = build_parser().parse_args(argv)
    if args.db is not None:
        server = FlightSqlServer(
            f"grpc://{args.host}:{args.port}", database=args.db, read_only=args.read_only
        )
    else:
        server = FlightSqlServer(
            f"grpc://{args.host}:{args.port}", sample_size=args.sample_size or None
        )
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
