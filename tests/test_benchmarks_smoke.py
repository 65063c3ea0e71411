"""``benchmarks/run.py --quick --repeat 1`` runs to the end and prints its results table.

Only that it completes: timing targets live in the benchmarks, never in the tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

RUN = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"


def test_quick_benchmark_run_completes(tmp_path: Path) -> None:
    report = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), "--quick", "--repeat", "1", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    header = done.stdout.splitlines()
    assert any(line.startswith("measurement") and "target" in line for line in header)
    for measurement in (
        "DoGet -> pyarrow.Table",
        "DoGet -> polars.DataFrame",
        "64-byte aligned buffers",
        "text progress cost",
        "peak RSS above baseline",
    ):
        assert measurement in done.stdout
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert {row["dataset"] for row in results} == {"int64", "mixed"}
    assert all(row["result"] in {"PASS", "MISS", "-"} for row in results)
