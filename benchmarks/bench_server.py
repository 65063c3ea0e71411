"""The benchmark's Flight server: ``pyarrow.flight`` in its own process.

A separate process keeps the server's work off the GIL of the client being measured. It
serves the datasets of :mod:`bench_data` under the tickets ``b"int64"`` and ``b"mixed"``,
prints one JSON line (``{"port": ..., "datasets": {...}}``) once it is ready, and stops by
itself when its stdin closes (the parent exited or died) or after ``--max-seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight
from bench_data import SCALES, build_datasets, describe

_EXIT_GRACE_SECONDS = 10.0


class DatasetServer(paflight.FlightServerBase):  # type: ignore[misc]
    """DoGet of a dataset name streams that table as it is chunked (64k-row batches)."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self._tables = tables

    def do_get(self, context: Any, ticket: paflight.Ticket) -> paflight.RecordBatchStream:
        name = ticket.ticket.decode()
        if name not in self._tables:
            raise paflight.FlightServerError(f"no dataset {name!r}")
        return paflight.RecordBatchStream(self._tables[name])


def _stop_when_done(server: DatasetServer, max_seconds: float) -> None:
    """Shut down on stdin EOF or after ``max_seconds``, whichever comes first."""
    done = threading.Event()

    def wait_for_eof() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            done.set()

    def stop() -> None:
        done.wait(max_seconds)
        # If a shutdown ever hangs on a stuck call, leave anyway.
        killer = threading.Timer(_EXIT_GRACE_SECONDS, os._exit, args=(0,))
        killer.daemon = True
        killer.start()
        server.shutdown()

    threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()
    threading.Thread(target=stop, name="stopper", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)

    tables = build_datasets(args.scale)
    server = DatasetServer(tables)
    datasets = {name: describe(table) for name, table in tables.items()}
    print(json.dumps({"port": server.port, "datasets": datasets}), flush=True)
    _stop_when_done(server, args.max_seconds)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
