"""A server stopped the usual ways takes its token with it: the runtime file goes.

``kill PID`` (SIGTERM, also what service managers and ``docker stop`` send) is as common a
way to stop ``python -m flightnb serve`` as Ctrl-C (SIGINT); after either, no file holding the
token stays behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_runtime_file_goes_when_the_server_is_stopped(
    tmp_path: Path, stop: signal.Signals
) -> None:
    runtime = tmp_path / "runtime"
    env = {**os.environ, "FLIGHTNB_RUNTIME_DIR": str(runtime)}
    process = subprocess.Popen(
        [sys.executable, "-m", "flightnb", "serve", "--port", "0", "--sample-size", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        assert "listening on" in process.stdout.readline()
        assert "runtime" in process.stdout.readline()  # printed once the file is written
        assert len(list(runtime.iterdir())) == 1
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert not list(runtime.iterdir())
