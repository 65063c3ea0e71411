"""``benchmarks/streaming.py all --quick`` runs to the end (timings live in the benchmark)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "streaming.py"


def test_quick_streaming_benchmark_completes(tmp_path: Path) -> None:
    report = tmp_path / "streaming.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "all", "--quick", "--rounds", "1", "--json", str(report)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert len(results) == 3
    endpoints, parquet, polars = results
    assert endpoints["equal_results"] and endpoints["vs_pool_result"] in {"PASS", "MISS"}
    assert len(parquet["rows"]) == 1 and parquet["rss_result"] in {"PASS", "MISS"}
    assert polars["equal_results"]
