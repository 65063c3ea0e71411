"""flightnb against pyarrow.flight's native client, on the same local server, in one run.

Usage::

    .venv/bin/python benchmarks/run.py              # full run, --repeat 7
    .venv/bin/python benchmarks/run.py --quick      # small datasets, a smoke run
    .venv/bin/python benchmarks/run.py --json results.json

A ``pyarrow.flight`` server runs in a subprocess (``bench_server.py``) so that it does not
share the GIL with the client under test. Timed reads alternate between the two clients
(peer, ours, peer, ours, ...) after untimed warm-up reads; the report shows medians
and ratios ``peer time / our time`` (above 1 means flightnb is faster). Peak memory is
measured per read in fresh subprocesses (``bench_rss.py``). Targets are reported as PASS or
MISS; they never change the exit status, which is 0 whenever the run completes.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import importlib.metadata
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight

import flightnb
from flightnb.progress import TextProgress

HERE = Path(__file__).resolve().parent
DATASETS = ("int64", "mixed")
MIB = 2**20

TABLE_TARGET = 1.2  # peer / ours, DoGet -> pyarrow.Table
POLARS_TARGET = 1.3  # peer / ours, DoGet -> polars.DataFrame
RSS_TARGET = 1.2  # ours: peak RSS above baseline / table.nbytes
PROGRESS_TARGET = 0.03  # ours: time with text progress / without, minus 1

SERVER_START_SECONDS = 120.0
READ_TIMEOUT_SECONDS = 120.0
PROBE_TIMEOUT_SECONDS = 180.0
MAX_REPEAT = 100
RSS_PROBES_MAX = 5
WARMUP_ROUNDS = 2


# --- the server subprocess ------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    uri: str
    datasets: dict[str, dict[str, int]]

    def stop(self) -> None:
        """Close its stdin (it shuts down by itself), then terminate, then kill."""
        if self.process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        for ending in (None, self.process.terminate, self.process.kill):
            if ending is not None:
                ending()
            try:
                self.process.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def running_server(scale: str, max_seconds: float) -> Iterator[Server]:
    command = [
        sys.executable,
        str(HERE / "bench_server.py"),
        "--scale",
        scale,
        "--max-seconds",
        str(max_seconds),
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    server = Server(process, "", {})
    atexit.register(server.stop)  # also on an exception or Ctrl-C below
    try:
        line = _read_line(process, SERVER_START_SECONDS)
        ready = json.loads(line)
        server.uri = f"grpc://127.0.0.1:{ready['port']}"
        server.datasets = ready["datasets"]
        yield server
    finally:
        server.stop()
        atexit.unregister(server.stop)


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    buffered = b""
    while b"\n" not in buffered:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"the benchmark server did not start within {timeout:.0f} s")
        readable, _, _ = select.select([process.stdout], [], [], remaining)
        if readable:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"the benchmark server exited (status {process.wait()})")
            buffered += chunk
    return buffered.split(b"\n", 1)[0]


@dataclass
class Clients:
    """One connection per client, reused by every timed read (as an application would)."""

    peer: paflight.FlightClient
    ours: flightnb.FlightClient
    options: paflight.FlightCallOptions


# --- timing -----------------------------------------------------------------------------


Read = Callable[[], Any]
# Rounds of the results-kept measurement: each keeps both clients' tables (~0.5 GB a round).
KEPT_ROUNDS = 4


def alternate(
    reads: dict[str, Read],
    repeat: int,
    check: Callable[[dict[str, Any]], None] | None = None,
    *,
    keep: bool = False,
) -> dict[str, list[float]]:
    """One untimed warm-up read each (given to ``check``), then ``repeat`` alternating rounds.

    With ``keep`` every result stays alive until the end, as tables in a notebook do, so each
    read needs fresh memory instead of reusing what the previous one freed.
    """
    kept: list[Any] = []
    warm = {name: read() for name, read in reads.items()}
    if check is not None:
        check(warm)
    del warm
    times: dict[str, list[float]] = {name: [] for name in reads}
    for _ in range(repeat):
        for name, read in reads.items():
            gc.collect()
            started = time.perf_counter()
            result = read()
            times[name].append(time.perf_counter() - started)
            if keep:
                kept.append(result)
            del result
    del kept
    gc.collect()
    return times


def warm_up(clients: Clients, rounds: int) -> None:
    """Untimed reads of every dataset by both clients, before anything is timed.

    The first reads of a fresh process and server are markedly slower (connections,
    allocators and page faults settling); without this they land on the first measurement.
    """
    for _ in range(rounds):
        for dataset in DATASETS:
            ticket = dataset.encode()
            clients.peer.do_get(paflight.Ticket(ticket), clients.options).read_all()
            clients.ours.do_get(ticket).read_all()
            gc.collect()


def alignment(table: pa.Table) -> dict[str, int]:
    """How many of a table's distinct buffers start at 64-byte (and 8-byte) boundaries."""
    seen: set[tuple[int, int]] = set()
    for column in table.columns:
        for chunk in column.chunks:
            arrays = [chunk]
            if isinstance(chunk, pa.DictionaryArray):
                arrays.append(chunk.dictionary)
            for array in arrays:
                for buffer in array.buffers():
                    if buffer is not None and buffer.size > 0:
                        seen.add((buffer.address, buffer.size))
    return {
        "buffers": len(seen),
        "aligned64": sum(address % 64 == 0 for address, _ in seen),
        "aligned8": sum(address % 8 == 0 for address, _ in seen),
    }


# --- results ------------------------------------------------------------------------------


@dataclass
class Row:
    measurement: str
    dataset: str
    peer: str
    ours: str
    figure: str
    target: str
    result: str
    values: dict[str, Any] = field(default_factory=dict)


def _seconds(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s"


def _ratio_row(measurement: str, dataset: str, times: dict[str, list[float]], target: float) -> Row:
    peer, ours = statistics.median(times["peer"]), statistics.median(times["ours"])
    ratio = peer / ours
    return Row(
        measurement,
        dataset,
        _seconds(times["peer"]),
        _seconds(times["ours"]),
        f"{ratio:.2f}x",
        f">= {target:.2f}x",
        "PASS" if ratio >= target else "MISS",
        {"peer_median_s": peer, "ours_median_s": ours, "ratio": ratio, "samples_s": times},
    )


def measure_table(dataset: str, repeat: int, clients: Clients) -> list[Row]:
    ticket = dataset.encode()
    found: dict[str, dict[str, int]] = {}

    def check(warm: dict[str, pa.Table]) -> None:
        if not warm["ours"].equals(warm["peer"]):
            raise AssertionError(f"{dataset}: flightnb and pyarrow.flight read different tables")
        found.update({name: alignment(table) for name, table in warm.items()})

    def peer() -> pa.Table:
        return clients.peer.do_get(paflight.Ticket(ticket), clients.options).read_all()

    reads = {"peer": peer, "ours": lambda: clients.ours.do_get(ticket).read_all()}
    times = alternate(reads, repeat, check)
    rows = [_ratio_row("DoGet -> pyarrow.Table", dataset, times, TABLE_TARGET)]
    kept = alternate(reads, min(repeat, KEPT_ROUNDS), keep=True)
    rows.append(_ratio_row("DoGet -> Table, results kept", dataset, kept, TABLE_TARGET))

    def share(counts: dict[str, int], key: str) -> str:
        return f"{counts[key] / counts['buffers']:.0%} ({counts[key]}/{counts['buffers']})"

    for key, label in (("aligned64", "64-byte aligned buffers"), ("aligned8", "8-byte aligned")):
        rows.append(
            Row(
                label,
                dataset,
                share(found["peer"], key),
                share(found["ours"], key),
                "-",
                "info",
                "-",
                {name: counts for name, counts in found.items()},
            )
        )
    return rows


def measure_polars(dataset: str, repeat: int, clients: Clients) -> Row:
    import polars as pl

    ticket = dataset.encode()

    def check(warm: dict[str, pl.DataFrame]) -> None:
        if not warm["ours"].equals(warm["peer"]):
            raise AssertionError(f"{dataset}: the polars frames differ")

    times = alternate(
        {
            "peer": lambda: pl.from_arrow(
                clients.peer.do_get(paflight.Ticket(ticket), clients.options).read_all()
            ),
            "ours": lambda: flightnb.read_flight(
                clients.ours, ticket=ticket, to="polars", progress=False
            ),
        },
        repeat,
        check,
    )
    return _ratio_row("DoGet -> polars.DataFrame", dataset, times, POLARS_TARGET)


def measure_conversion(dataset: str, repeat: int, clients: Clients) -> Row:
    """``pl.from_arrow`` alone, on a table each client has read: the conversion's share."""
    import polars as pl

    ticket = dataset.encode()
    peer_table = clients.peer.do_get(paflight.Ticket(ticket), clients.options).read_all()
    ours_table = clients.ours.do_get(ticket).read_all()
    times = alternate(
        {"peer": lambda: pl.from_arrow(peer_table), "ours": lambda: pl.from_arrow(ours_table)},
        repeat,
    )
    peer, ours = statistics.median(times["peer"]), statistics.median(times["ours"])
    return Row(
        "pl.from_arrow(table) alone",
        dataset,
        f"{peer * 1000:.1f} ms",
        f"{ours * 1000:.1f} ms",
        f"{peer / ours:.1f}x",
        "info",
        "-",
        {"peer_median_s": peer, "ours_median_s": ours, "samples_s": times},
    )


def measure_progress(dataset: str, repeat: int, clients: Clients) -> Row:
    ticket = dataset.encode()
    with open(os.devnull, "w", encoding="utf-8") as sink:
        times = alternate(
            {
                "peer": lambda: flightnb.read_flight(clients.ours, ticket=ticket, progress=False),
                "ours": lambda: flightnb.read_flight(
                    clients.ours, ticket=ticket, progress=TextProgress(delay=0, file=sink)
                ),
            },
            repeat,
        )
    off, on = statistics.median(times["peer"]), statistics.median(times["ours"])
    overhead = on / off - 1
    return Row(
        "text progress cost (off -> on)",
        dataset,
        _seconds(times["peer"]),
        _seconds(times["ours"]),
        f"{overhead:+.1%}",
        f"< {PROGRESS_TARGET:.0%}",
        "PASS" if overhead < PROGRESS_TARGET else "MISS",
        {"off_median_s": off, "on_median_s": on, "overhead": overhead, "samples_s": times},
    )


def _probe(client: str, uri: str, dataset: str) -> dict[str, Any]:
    command = [
        sys.executable,
        str(HERE / "bench_rss.py"),
        "--client",
        client,
        "--uri",
        uri,
        "--ticket",
        dataset,
        "--timeout",
        str(READ_TIMEOUT_SECONDS),
    ]
    done = subprocess.run(
        command, capture_output=True, timeout=PROBE_TIMEOUT_SECONDS, check=False, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory probe failed ({client}, {dataset}):\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def measure_rss(server: Server, dataset: str, probes: int) -> Row:
    found: dict[str, list[dict[str, Any]]] = {"peer": [], "ours": []}
    for _ in range(probes):
        for client in ("peer", "ours"):
            found[client].append(_probe(client, server.uri, dataset))

    def factor(client: str) -> tuple[float, float]:
        peak = statistics.median(p["peak_above_baseline"] for p in found[client])
        return peak, peak / found[client][0]["nbytes"]

    (peer_peak, peer_factor), (ours_peak, ours_factor) = factor("peer"), factor("ours")
    return Row(
        "peak RSS above baseline / nbytes",
        dataset,
        f"{peer_factor:.2f}x ({peer_peak / MIB:.0f} MiB)",
        f"{ours_factor:.2f}x ({ours_peak / MIB:.0f} MiB)",
        f"{ours_factor:.2f}x",
        f"<= {RSS_TARGET:.2f}x",
        "PASS" if ours_factor <= RSS_TARGET else "MISS",
        {"peer_factor": peer_factor, "ours_factor": ours_factor, "probes": found},
    )


# --- report -------------------------------------------------------------------------------


COLUMNS = (
    ("measurement", "measurement"),
    ("dataset", "dataset"),
    ("peer", "pyarrow.flight / off"),
    ("ours", "flightnb / on"),
    ("figure", "ratio"),
    ("target", "target"),
    ("result", "result"),
)


def format_table(rows: list[Row]) -> str:
    cells = [[title for _, title in COLUMNS]]
    cells += [[str(getattr(row, key)) for key, _ in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)) for line in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def environment() -> dict[str, Any]:
    versions = {}
    for package in ("flightnb", "pyarrow", "polars", "grpcio", "numpy", "protobuf"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    memory = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            memory = f"{int(meminfo.readline().split()[1]) / 2**20:.1f} GiB"
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory": memory,
        "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed reads per client (7)")
    parser.add_argument("--quick", action="store_true", help="1/16-size datasets, a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= MAX_REPEAT:
        parser.error(f"--repeat must be between 1 and {MAX_REPEAT}")
    scale = "quick" if args.quick else "full"
    probes = min(args.repeat, RSS_PROBES_MAX)

    env = environment()
    load_before = os.getloadavg()
    started = time.monotonic()
    print(
        f"flightnb {env['versions']['flightnb']} vs pyarrow.flight "
        f"{env['versions']['pyarrow']} | polars {env['versions']['polars']} | grpcio "
        f"{env['versions']['grpcio']} | Python {env['python']} | {env['cpus']} CPUs, "
        f"{env['memory']}"
    )
    print(f"scale={scale} repeat={args.repeat} rss_probes={probes} load={load_before}")

    rows: list[Row] = []
    # A generous bound: the server exits by itself even if this process is stuck.
    with running_server(scale, max_seconds=600 + 120 * args.repeat) as server:
        for name, info in server.datasets.items():
            print(
                f"dataset {name}: {info['rows']:,} rows, {info['columns']} columns, "
                f"{info['batches']} batches, {info['nbytes'] / MIB:.1f} MiB"
            )
        clients = Clients(
            paflight.connect(server.uri),
            flightnb.FlightClient(server.uri, timeout=READ_TIMEOUT_SECONDS),
            paflight.FlightCallOptions(timeout=READ_TIMEOUT_SECONDS),
        )
        try:
            print(f"[{time.monotonic() - started:6.1f} s] warm-up: {WARMUP_ROUNDS} untimed rounds")
            warm_up(clients, WARMUP_ROUNDS)
            for dataset in DATASETS:
                print(f"[{time.monotonic() - started:6.1f} s] {dataset}: DoGet -> Table")
                rows += measure_table(dataset, args.repeat, clients)
                print(f"[{time.monotonic() - started:6.1f} s] {dataset}: DoGet -> polars")
                rows.append(measure_polars(dataset, args.repeat, clients))
                rows.append(measure_conversion(dataset, args.repeat, clients))
                print(f"[{time.monotonic() - started:6.1f} s] {dataset}: progress cost")
                rows.append(measure_progress(dataset, args.repeat, clients))
        finally:
            clients.peer.close()
            clients.ours.close()
        for dataset in DATASETS:
            print(f"[{time.monotonic() - started:6.1f} s] {dataset}: peak RSS (subprocesses)")
            rows.append(measure_rss(server, dataset, probes))
        datasets = server.datasets
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    order = {m: i for i, m in enumerate(dict.fromkeys(row.measurement for row in rows))}
    rows.sort(key=lambda row: (order[row.measurement], DATASETS.index(row.dataset)))
    print()
    print("ratio = pyarrow.flight median / flightnb median (> 1: flightnb is faster);")
    print("progress row: flightnb without / with text progress; RSS row: peak / table.nbytes")
    print(format_table(rows))
    missed = [f"{row.measurement} [{row.dataset}]" for row in rows if row.result == "MISS"]
    print(f"\ntargets missed: {', '.join(missed) if missed else 'none'}")
    print(f"elapsed {elapsed:.1f} s, load average before {load_before}, after {load_after}")
    if args.quick:
        print("(--quick: small datasets; the figures are a smoke test, not a measurement)")

    if args.json is not None:
        report = {
            "environment": env,
            "arguments": {"repeat": args.repeat, "quick": args.quick, "rss_probes": probes},
            "datasets": datasets,
            "load_average": {"before": load_before, "after": load_after},
            "elapsed_s": elapsed,
            "results": [asdict(row) for row in rows],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
