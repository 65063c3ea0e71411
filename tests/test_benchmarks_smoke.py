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
        "DoGet -> Table, results kept",
        "efficiency: grpc.aio floor, warm",
        "efficiency: grpc.aio floor, kept",
        "DoGet -> polars.DataFrame",
        "64-byte aligned buffers",
        "text progress cost",
        "peak RSS above baseline",
    ):
        assert measurement in done.stdout
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert {row["dataset"] for row in results} == {"int64", "mixed"}
    assert all(row["result"] in {"PASS", "MISS", "-"} for row in results)
    # The floor rows: efficiency = floor / flightnb, and the spread of the per-round ratios.
    floors = [row for row in results if row["measurement"].startswith("efficiency: grpc.aio floor")]
    assert len(floors) == 4
    for row in floors:
        assert row["values"]["floor_median_s"] > 0
        assert row["values"]["ratio"] > 0
        low, middle, high = (float(part) for part in row["spread"].split(" / "))
        assert 0 < low <= middle <= high
        assert row["blocks"].endswith(("settled", "cap"))
    assert "per round: min / median / max" in done.stdout


LATENCY = RUN.parent / "latency.py"


def test_latency_benchmark_runs_through_its_proxy(tmp_path: Path) -> None:
    """``latency.py`` on a tiny flight, no delay: both contenders read equal tables."""
    report = tmp_path / "latency.json"
    done = subprocess.run(
        [
            sys.executable,
            str(LATENCY),
            "--rtts",
            "0",
            "--rounds",
            "1",
            "--mib",
            "2",
            "--what",
            "single,eight",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert [row["case"] for row in results] == ["single endpoint", "8 endpoints on 4 servers"]
    for row in results:
        assert row["equal_results"]
        assert row["pyarrow.flight"]["connections"] >= 1
        assert row["flightnb"]["connections"] >= 1
        # One connection per server the read used: the planner's, and each peer's once.
        assert row["flightnb"]["connections"] == row["pyarrow.flight"]["connections"]
        assert row["flightnb"]["requests"] == row["pyarrow.flight"]["requests"]


def test_latency_first_batch_mode_counts_the_exchanges(tmp_path: Path) -> None:
    """``latency.py --first-batch``: plain and TLS, one connection each, two calls in plaintext."""
    report = tmp_path / "first.json"
    done = subprocess.run(
        [
            sys.executable,
            str(LATENCY),
            "--first-batch",
            "--rtts",
            "0",
            "--rounds",
            "1",
            "--json",
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert [row["case"] for row in results] == ["first batch, plain", "first batch, TLS"]
    for row in results:
        assert row["equal_results"]
        for side in ("pyarrow.flight", "flightnb"):
            assert row[side]["connections"] == 1
    assert results[0]["flightnb"]["requests"] == results[0]["pyarrow.flight"]["requests"] == 2


def _crosscheck(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``latency_crosscheck.py`` with ``arguments``, at no delay and one round."""
    script = RUN.parent / "latency_crosscheck.py"
    command = [sys.executable, str(script), "--rtt", "0", "--rounds", "1", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=240, check=False)


def test_latency_crosscheck_runs_through_its_own_proxy() -> None:
    """``latency_crosscheck.py`` on a small flight sent as one batch: every read is checked."""
    done = _crosscheck("--rows", "20000", "--batch-rows", "0")
    assert done.returncode == 0, done.stderr
    assert "one batch, 1 rounds" in done.stdout
    assert "pyarrow / flightnb-unaligned:" in done.stdout


def test_latency_crosscheck_reads_endpoints_from_several_servers() -> None:
    """``latency_crosscheck.py --endpoints 4 --servers 2``: a planned read, every result checked.

    ``--link-cpus 0`` pins the servers and proxies to the first CPU, which every machine has.
    """
    done = _crosscheck(
        "--rows",
        "40000",
        "--batch-rows",
        "8192",
        "--endpoints",
        "4",
        "--servers",
        "2",
        "--link-cpus",
        "0",
    )
    assert done.returncode == 0, done.stderr
    assert "4 endpoints on 2 servers, 1 rounds, link on CPUs [0]" in done.stdout
    assert "pyarrow / flightnb:" in done.stdout
