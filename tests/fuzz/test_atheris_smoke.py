"""A short coverage-guided run of the atheris fuzz target, as a smoke test.

The long campaign is run by hand (see docs/reliability.md); this only proves the target
starts, seeds its corpus and survives a few thousand mutated inputs. atheris is a dev
dependency: without it this test fails instead of skipping, so CI cannot quietly lose it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).parent / "atheris_decoder.py"

pytestmark = pytest.mark.timeout(180)


def test_atheris_target_runs(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.fail(
            "atheris is not installed; install the dev extra (`pip install -e '.[dev]'`) "
            "or `pip install atheris` (a wheel exists for CPython 3.11 on manylinux x86_64)"
        )
    corpus = tmp_path / "corpus"
    result = subprocess.run(
        [
            sys.executable,
            str(TARGET),
            "-runs=2000",
            "-max_total_time=20",
            "-rss_limit_mb=2048",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=150,
    )
    crashes = sorted(p.name for p in tmp_path.glob("crash-*"))
    assert result.returncode == 0 and not crashes, (
        f"the fuzz target failed (exit {result.returncode}, artifacts {crashes}); copy the "
        f"crash file into tests/fuzz/regressions/ and fix the decoder:\n{result.stderr[-4000:]}"
    )
    assert any(corpus.iterdir()), "the target did not seed its corpus"
    assert "Done 2000 runs" in result.stderr or "DONE" in result.stderr
