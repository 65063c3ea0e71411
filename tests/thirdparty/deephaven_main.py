"""Run Deephaven Community Core in this process until standard input closes.

``python deephaven_main.py DATA_DIR`` starts the embedded server (JVM in-process through jpy)
on 127.0.0.1 with a free port, publishes every ``DATA_DIR/<name>.arrow`` file (Arrow IPC)
as the table ``<name>`` in its Python scope, adds ``numbers`` built by Deephaven's own engine
(see :func:`numbers_reference`), then prints one line ``READY {"port": <port>}``. It serves
until its standard input reaches end of file: the fixture closes the pipe to stop it, and a
test process that dies closes it too, so no server outlives its tests.

Scope variables are this module's globals, which is where the embedded server looks up
``s/<name>`` tickets and ``["scope", "<name>"]`` paths.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa

READY = "READY"

#: Rows of the ``numbers`` table.
NUMBERS_ROWS = 1000

#: Deephaven query-language formulas of ``numbers``; ``i`` is the row's int position, ``ii``
#: the long one, ``NULL_INT`` Deephaven's null of int columns.
NUMBERS_FORMULAS = ["I = i", "L = ii * 3", "S = `n` + i", "N = i % 4 == 0 ? NULL_INT : i"]


def numbers_reference() -> pa.Table:
    """What ``numbers`` holds, as pyarrow builds it: the reference for its reads."""
    ids = range(NUMBERS_ROWS)
    return pa.table(
        {
            "I": pa.array(ids, pa.int32()),
            "L": pa.array([k * 3 for k in ids], pa.int64()),
            "S": pa.array([f"n{k}" for k in ids], pa.string()),
            "N": pa.array([None if k % 4 == 0 else k for k in ids], pa.int32()),
        }
    )


def main(data_dir: Path) -> None:
    from deephaven_server import Server

    server = Server(
        host="127.0.0.1",
        port=0,
        jvm_args=["-Xmx2g", "-DAuthHandlers=io.deephaven.auth.AnonymousAuthenticationHandler"],
    )
    server.start()

    # Only importable once the JVM runs.
    from deephaven import arrow as deephaven_arrow
    from deephaven import empty_table

    scope = globals()
    for path in sorted(data_dir.glob("*.arrow")):
        with pa.memory_map(str(path)) as source:
            scope[path.stem] = deephaven_arrow.to_table(pa.ipc.open_file(source).read_all())
    scope["numbers"] = empty_table(NUMBERS_ROWS).update(NUMBERS_FORMULAS)
    print(READY, json.dumps({"port": server.port}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
