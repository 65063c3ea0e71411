"""The server stands on its own: importing or running it loads no client code.

grpcio's own ``grpc/__init__.py`` imports ``grpc.aio`` (grpcio 1.85), so any process that
uses gRPC's threaded server has ``grpc.aio`` in ``sys.modules``. What flightnb controls is
that none of *its* client modules, and none of its modules that use ``grpc.aio``, are loaded:
that is what these tests assert, in a fresh interpreter each. Where the installed grpcio does
not load ``grpc.aio`` by itself, the server must not load it either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from test_import_graph import CLIENT_SIDE, grpc_aio_modules

#: flightnb's modules that import grpc.aio themselves; with the client-side modules, none may
#: be loaded by the server (a module that imports one of them would load it too).
AIO_USERS = grpc_aio_modules()


def _forbidden(modules: list[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m in AIO_USERS or any(m == c or m.startswith(f"{c}.") for c in CLIENT_SIDE)
    )


COMMAND = (sys.executable, "-X", "importtime", "-m", "flightnb", "serve")


def _fresh(code: str) -> dict[str, bool | list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    found: dict[str, bool | list[str]] = json.loads(done.stdout)
    return found


def _grpc_loads_aio() -> bool:
    found = _fresh("import json, sys, grpc; print(json.dumps({'aio': 'grpc.aio' in sys.modules}))")
    return bool(found["aio"])


def test_importing_the_server_loads_no_client_module() -> None:
    found = _fresh(
        "import json, sys; import flightnb.server; "
        "print(json.dumps({'modules': sorted(sys.modules), 'aio': 'grpc.aio' in sys.modules}))"
    )
    modules = found["modules"]
    assert isinstance(modules, list)
    assert "flightnb.server.duckdb_server" in modules  # the import did happen
    assert _forbidden(modules) == []
    if not _grpc_loads_aio():
        assert found["aio"] is False


def test_the_server_command_loads_no_client_module(tmp_path: Path) -> None:
    """``python -m flightnb serve`` as users run it, its imports listed by ``-X importtime``."""
    env = {**os.environ, "FLIGHTNB_RUNTIME_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [*COMMAND, "--port", "0", "--sample-size", "0", "--no-auth"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        assert "listening on" in process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    imported = [
        line.rpartition("|")[2].strip() for line in err.splitlines() if "import time:" in line
    ]
    assert "flightnb.server.duckdb_server" in imported
    assert _forbidden(imported) == []
