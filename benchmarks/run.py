"""flightnb against pyarrow.flight's native client, on the same local server, in one run.

Usage::

    .venv/bin/python benchmarks/run.py              # full run, blocks of --repeat 7
    .venv/bin/python benchmarks/run.py --quick      # small datasets, a smoke run
    .venv/bin/python benchmarks/run.py --json results.json

A ``pyarrow.flight`` server runs in a subprocess (``bench_server.py``) so that it does not
share the GIL with the client under test. Timed reads alternate between the contenders
(each round starts one contender later: peer, ours, floor; ours, floor, peer; ...) after
untimed warm-up reads; the report shows medians and ratios ``peer time / our time`` (above 1
means flightnb is faster). The floor (``bench_floor.py``) is a bare grpc.aio DoGet that only
receives the messages; ``efficiency = floor time / our time`` (1.0: flightnb costs nothing
over receiving the bytes). The DoGet -> Table measurements repeat whole blocks of rounds
until the median of every per-round ratio settles (or a cap on blocks or time is reached),
and report the spread of per-round ratios. Peak memory is measured per read in fresh
subprocesses (``bench_rss.py``). Targets are reported as PASS or MISS; they never change the
exit status, which is 0 whenever the run completes.
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
from bench_floor import GrpcFloor

import flightnb
from flightnb.client.loop_thread import shared_loop_thread
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
# Settling: blocks repeat until the median of each per-round ratio (over all rounds so far)
# stayed within --tolerance over the last SETTLE_BLOCKS blocks, or a cap is reached.
SETTLE_BLOCKS = 3
MAX_BLOCKS = 8
MAX_BLOCKS_LIMIT = 30
SETTLE_TOLERANCE = 0.03
SETTLE_SECONDS = 75.0  # per measurement and dataset: no more blocks start after this
# A block during which other processes used this many cores or more is left out.
BUSY_CORES = 0.2
# With --wait-quiet: after a busy block, wait at most this long for quiet before the next.
BUSY_PAUSE_SECONDS = 20.0


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
    floor: GrpcFloor


# --- other load -------------------------------------------------------------------------


def _machine_jiffies() -> tuple[int, int]:
    """Busy and total CPU time of the whole machine so far, in clock ticks (Linux)."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def _process_jiffies(pid: int) -> int:
    """CPU time of a process and its waited-for children, in clock ticks (0 once gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(value) for value in fields[11:15])  # utime stime cutime cstime


class OtherLoad:
    """How busy the machine was with processes other than this benchmark's, in cores.

    The benchmark's own work (this process, its server, its memory probes) is subtracted
    from the machine's busy time. On a quiet machine the figure stays near 0; a figure of
    0.2 cores or more means someone else competed for the CPU and the timings are suspect.
    """

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self._start = self._sample()

    def _sample(self) -> tuple[int, int, int]:
        busy, total = _machine_jiffies()
        return busy, total, sum(_process_jiffies(pid) for pid in self.pids)

    def cores(self) -> float:
        """Average cores used by other processes since creation (or the last ``restart``)."""
        busy, total, ours = self._sample()
        start_busy, start_total, start_ours = self._start
        if total <= start_total:
            return 0.0
        others = max(0, (busy - start_busy) - (ours - start_ours))
        return others / (total - start_total) * (os.cpu_count() or 1)

    def restart(self) -> None:
        self._start = self._sample()


def wait_for_quiet(seconds: float, threshold: float = 0.1, window: float = 5.0) -> float:
    """Wait at most ``seconds`` for other processes to use under ``threshold`` cores.

    The figure is taken over each ``window`` seconds; returns the last one.
    """
    deadline = time.monotonic() + seconds
    load = OtherLoad([os.getpid()])
    figure = 0.0
    while True:
        time.sleep(min(window, max(0.0, deadline - time.monotonic())))
        figure = load.cores()
        if figure < threshold or time.monotonic() >= deadline:
            return figure
        load.restart()


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
    warm: bool = True,
    first_round: int = 0,
) -> dict[str, list[float]]:
    """One untimed warm-up read each (given to ``check``), then ``repeat`` alternating rounds.

    Round ``i`` starts with contender ``i % len(reads)``, so that each contender follows each
    other one equally often (what a read finds in memory depends on what ran before it).
    With ``keep`` every result stays alive until the end, as tables in a notebook do, so each
    read needs fresh memory instead of reusing what the previous one freed. ``warm=False``
    skips the warm-up reads (for the later blocks of :func:`settle`).
    """
    kept: list[Any] = []
    if warm:
        results = {name: read() for name, read in reads.items()}
        if check is not None:
            check(results)
        del results
    times: dict[str, list[float]] = {name: [] for name in reads}
    names = list(reads)
    for index in range(first_round, first_round + repeat):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            read = reads[name]
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


def per_round(times: dict[str, list[float]], numerator: str, denominator: str) -> list[float]:
    """``numerator / denominator`` time in each round (the reads of a round are adjacent)."""
    return [n / d for n, d in zip(times[numerator], times[denominator], strict=True)]


@dataclass
class Settled:
    """The rounds of the blocks one measurement used, and how the blocks ended."""

    #: Samples of the blocks used: the quiet ones, or every block if none was quiet.
    times: dict[str, list[float]]
    rounds: int
    blocks: int
    #: How many blocks were left out because other processes competed for the CPU.
    busy: int
    settled: bool
    #: For each ratio: its median over the rounds used, after each block used.
    medians: dict[str, list[float]]
    #: Cores used by other processes during each block (see :class:`OtherLoad`).
    other_load: list[float] = field(default_factory=list)

    def describe(self) -> str:
        busy = f" ({self.busy} busy, left out)" if self.busy else ""
        if self.busy == self.blocks:
            busy = " (all busy, all used)"
        return f"{self.blocks}x{self.rounds}{busy}, {'settled' if self.settled else 'cap'}"


@dataclass
class Settling:
    """When :func:`settle` stops: ``tolerance`` over ``SETTLE_BLOCKS`` blocks, or a cap."""

    max_blocks: int = MAX_BLOCKS
    tolerance: float = SETTLE_TOLERANCE
    seconds: float = SETTLE_SECONDS
    #: After a busy block, wait up to this long for a quiet machine (not counted in seconds).
    pause: float = 0.0


def _moved(medians: list[float]) -> float:
    """How far a run of medians spread, relative to the latest."""
    return (max(medians) - min(medians)) / medians[-1]


def settle(
    reads: dict[str, Read],
    rounds: int,
    ratios: dict[str, tuple[str, str]],
    settling: Settling,
    check: Callable[[dict[str, Any]], None] | None = None,
    *,
    keep: bool = False,
    log: Callable[[str], None] = print,
    load: OtherLoad | None = None,
) -> Settled:
    """Blocks of ``rounds`` alternating rounds until every ratio's median settles.

    After each block, each ratio in ``ratios`` (label -> (numerator, denominator)) gets its
    median over the per-round ratios of all blocks so far. The blocks stop once each of those
    medians stayed within ``settling.tolerance`` (relative spread) over the last
    ``SETTLE_BLOCKS`` blocks, or after ``settling.max_blocks`` blocks, or when
    ``settling.seconds`` have passed (a block that started always finishes). With ``keep``,
    each block keeps its results until the block ends.

    With ``load``, a block during which other processes used ``BUSY_CORES`` or more is left
    out (it neither counts towards settling nor enters the figures), unless every block was
    busy: then all are used, and the row says so.
    """
    times: dict[str, list[float]] = {name: [] for name in reads}
    every: dict[str, list[float]] = {name: [] for name in reads}
    medians: dict[str, list[float]] = {label: [] for label in ratios}
    started = time.monotonic()
    blocks = busy = 0
    other_load: list[float] = []
    while True:
        if load is not None:
            load.restart()
        block = alternate(
            reads,
            rounds,
            check if blocks == 0 else None,
            keep=keep,
            warm=blocks == 0,
            first_round=blocks * rounds,
        )
        blocks += 1
        other_load.append(load.cores() if load is not None else 0.0)
        for name, samples in block.items():
            every[name] += samples
        quiet = other_load[-1] < BUSY_CORES
        if quiet:
            for name, samples in block.items():
                times[name] += samples
            for label, (numerator, denominator) in ratios.items():
                medians[label].append(statistics.median(per_round(times, numerator, denominator)))
        else:
            busy += 1
        paused = 0.0
        if not quiet and settling.pause > 0 and blocks < settling.max_blocks:
            waiting = time.monotonic()
            wait_for_quiet(settling.pause, threshold=BUSY_CORES / 2)
            paused = time.monotonic() - waiting
            started += paused  # waiting is not measuring: it does not count towards the cap
        settled = len(medians[next(iter(ratios))]) >= SETTLE_BLOCKS and all(
            _moved(history[-SETTLE_BLOCKS:]) < settling.tolerance for history in medians.values()
        )
        figures = ", ".join(
            f"{label} {statistics.median(per_round(block, numerator, denominator)):.2f}x"
            for label, (numerator, denominator) in ratios.items()
        )
        log(
            f"block {blocks}: {figures} (other processes: {other_load[-1]:.2f} cores"
            + ("" if quiet else ", busy: left out")
            + (f"; waited {paused:.0f} s for quiet" if paused else "")
            + ")"
        )
        out_of_time = time.monotonic() - started > settling.seconds
        if settled or blocks >= settling.max_blocks or out_of_time:
            if busy == blocks:  # nothing quiet: use everything, and say so
                times = every
                for label, (numerator, denominator) in ratios.items():
                    medians[label].append(
                        statistics.median(per_round(times, numerator, denominator))
                    )
            return Settled(times, rounds, blocks, busy, settled, medians, other_load)


def warm_up(clients: Clients, rounds: int) -> None:
    """Untimed reads of every dataset by every contender, before anything is timed.

    The first reads of a fresh process and server are markedly slower (connections,
    allocators and page faults settling); without this they land on the first measurement.
    """
    for _ in range(rounds):
        for dataset in DATASETS:
            ticket = dataset.encode()
            clients.peer.do_get(paflight.Ticket(ticket), clients.options).read_all()
            clients.ours.do_get(ticket).read_all()
            clients.floor.receive(ticket)
            clients.floor.receive_kept(ticket)
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
    #: Per-round figures (ratio, or overhead), min / median / max.
    spread: str = "-"
    #: Blocks x rounds per block, and whether the medians settled.
    blocks: str = "-"


def _seconds(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s"


def _spread(values: list[float], form: str = "{:.2f}") -> str:
    low, middle, high = min(values), statistics.median(values), max(values)
    return " / ".join(form.format(value) for value in (low, middle, high))


def _ratio_row(
    measurement: str,
    dataset: str,
    times: dict[str, list[float]],
    target: float | None,
    *,
    against: str = "peer",
    blocks: str | None = None,
) -> Row:
    """``against`` median / flightnb median, with the spread of the per-round ratios.

    ``target`` None makes an informational row.
    """
    other, ours = statistics.median(times[against]), statistics.median(times["ours"])
    ratio = other / ours
    rounds = per_round(times, against, "ours")
    values = {
        f"{against}_median_s": other,
        "ours_median_s": ours,
        "ratio": ratio,
        "per_round_ratios": rounds,
        "samples_s": times,
    }
    return Row(
        measurement,
        dataset,
        _seconds(times[against]),
        _seconds(times["ours"]),
        f"{ratio:.2f}x",
        "info" if target is None else f">= {target:.2f}x",
        "-" if target is None else ("PASS" if ratio >= target else "MISS"),
        values,
        spread=_spread(rounds),
        blocks=blocks if blocks is not None else f"1x{len(rounds)}",
    )


def _settled_rows(
    dataset: str, found: Settled, table_measurement: str, floor_measurement: str
) -> list[Row]:
    """The pyarrow.flight ratio row and the efficiency row of one settled measurement."""
    rows = []
    for measurement, against, target in (
        (table_measurement, "peer", TABLE_TARGET),
        (floor_measurement, "floor", None),
    ):
        row = _ratio_row(
            measurement, dataset, found.times, target, against=against, blocks=found.describe()
        )
        row.values["block_medians"] = found.medians
        row.values["settled"] = found.settled
        row.values["other_load_cores"] = found.other_load
        row.values["busy_blocks"] = found.busy
        rows.append(row)
    return rows


RATIOS = {"vs pyarrow.flight": ("peer", "ours"), "efficiency": ("floor", "ours")}


def measure_table(
    dataset: str,
    repeat: int,
    clients: Clients,
    settling: Settling,
    started: float,
    load: OtherLoad | None = None,
) -> list[Row]:
    ticket = dataset.encode()
    found: dict[str, dict[str, int]] = {}

    def check(warm: dict[str, Any]) -> None:
        if not warm["ours"].equals(warm["peer"]):
            raise AssertionError(f"{dataset}: flightnb and pyarrow.flight read different tables")
        # The floor receives the schema message and every batch (and any dictionaries).
        if warm["floor"] < warm["ours"].column(0).num_chunks + 1:
            raise AssertionError(f"{dataset}: the floor read {warm['floor']} messages only")
        found.update({name: alignment(warm[name]) for name in ("peer", "ours")})

    def peer() -> pa.Table:
        return clients.peer.do_get(paflight.Ticket(ticket), clients.options).read_all()

    def ours() -> pa.Table:
        return clients.ours.do_get(ticket).read_all()

    def log(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {line.lstrip()}")

    reads = {"peer": peer, "ours": ours, "floor": lambda: clients.floor.receive(ticket)}
    warm = settle(reads, repeat, RATIOS, settling, check, log=log, load=load)
    rows = _settled_rows(
        dataset, warm, "DoGet -> pyarrow.Table", "efficiency: grpc.aio floor, warm"
    )
    print(f"[{time.monotonic() - started:6.1f} s] {dataset}: DoGet -> Table, results kept")
    kept_reads = {"peer": peer, "ours": ours, "floor": lambda: clients.floor.receive_kept(ticket)}
    kept = settle(
        kept_reads, min(repeat, KEPT_ROUNDS), RATIOS, settling, keep=True, log=log, load=load
    )
    rows += _settled_rows(
        dataset, kept, "DoGet -> Table, results kept", "efficiency: grpc.aio floor, kept"
    )

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
        spread=_spread(per_round(times, "peer", "ours"), "{:.1f}"),
        blocks=f"1x{repeat}",
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
    rounds = [ratio - 1 for ratio in per_round(times, "ours", "peer")]
    return Row(
        "text progress cost (off -> on)",
        dataset,
        _seconds(times["peer"]),
        _seconds(times["ours"]),
        f"{overhead:+.1%}",
        f"< {PROGRESS_TARGET:.0%}",
        "PASS" if overhead < PROGRESS_TARGET else "MISS",
        {
            "off_median_s": off,
            "on_median_s": on,
            "overhead": overhead,
            "per_round_overhead": rounds,
            "samples_s": times,
        },
        spread=_spread(rounds, "{:+.1%}"),
        blocks=f"1x{len(rounds)}",
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
        spread=_spread([p["peak_above_baseline"] / p["nbytes"] for p in found["ours"]]),
        blocks=f"{probes} probes",
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
    ("spread", "per round: min / median / max"),
    ("blocks", "blocks x rounds"),
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
    parser.add_argument(
        "--repeat", type=int, default=7, help="timed rounds per block (7; results kept: 4)"
    )
    parser.add_argument(
        "--max-blocks",
        type=int,
        default=MAX_BLOCKS,
        help=f"most blocks of the DoGet -> Table measurements ({MAX_BLOCKS})",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=SETTLE_TOLERANCE,
        help=f"settled: medians within this over {SETTLE_BLOCKS} blocks ({SETTLE_TOLERANCE})",
    )
    parser.add_argument("--quick", action="store_true", help="1/16-size datasets, a smoke run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument(
        "--floor-loop",
        choices=("shared", "own"),
        default="shared",
        help="run the grpc.aio floor on flightnb's loop thread (shared, the default) or on a "
        "second loop thread of its own (own: shows what a second grpc.aio loop costs)",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="first wait up to SECONDS for other processes to leave the CPU idle, and after "
        f"a busy block up to {BUSY_PAUSE_SECONDS:.0f} s more (0: never wait)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= MAX_REPEAT:
        parser.error(f"--repeat must be between 1 and {MAX_REPEAT}")
    if not 1 <= args.max_blocks <= MAX_BLOCKS_LIMIT:
        parser.error(f"--max-blocks must be between 1 and {MAX_BLOCKS_LIMIT}")
    if not 0 < args.tolerance < 1:
        parser.error("--tolerance must be between 0 and 1")
    settling = Settling(
        max_blocks=args.max_blocks,
        tolerance=args.tolerance,
        pause=min(BUSY_PAUSE_SECONDS, args.wait_quiet),
    )
    scale = "quick" if args.quick else "full"
    probes = min(args.repeat, RSS_PROBES_MAX)

    if not 0 <= args.wait_quiet <= 3600:
        parser.error("--wait-quiet must be between 0 and 3600 seconds")
    if args.wait_quiet:
        figure = wait_for_quiet(args.wait_quiet)
        print(f"waited for a quiet machine: other processes {figure:.2f} cores")
    env = environment()
    load_before = os.getloadavg()
    started = time.monotonic()
    print(
        f"flightnb {env['versions']['flightnb']} vs pyarrow.flight "
        f"{env['versions']['pyarrow']} | polars {env['versions']['polars']} | grpcio "
        f"{env['versions']['grpcio']} | Python {env['python']} | {env['cpus']} CPUs, "
        f"{env['memory']}"
    )
    print(f"flightnb imported from {Path(flightnb.__file__).resolve().parent}")
    print(
        f"scale={scale} repeat={args.repeat} max_blocks={args.max_blocks} "
        f"tolerance={args.tolerance} floor_loop={args.floor_loop} rss_probes={probes} "
        f"load={load_before}"
    )

    rows: list[Row] = []
    pids = [os.getpid()]
    run_load = OtherLoad(pids)
    # A generous bound: the server exits by itself even if this process is stuck.
    limit = 600 + 120 * args.repeat + 4 * len(DATASETS) * SETTLE_SECONDS
    with running_server(scale, max_seconds=limit) as server:
        pids.append(server.process.pid)
        run_load.restart()
        for name, info in server.datasets.items():
            print(
                f"dataset {name}: {info['rows']:,} rows, {info['columns']} columns, "
                f"{info['batches']} batches, {info['nbytes'] / MIB:.1f} MiB"
            )
        clients = Clients(
            paflight.connect(server.uri),
            flightnb.FlightClient(server.uri, timeout=READ_TIMEOUT_SECONDS),
            paflight.FlightCallOptions(timeout=READ_TIMEOUT_SECONDS),
            GrpcFloor(
                server.uri.removeprefix("grpc://"),
                READ_TIMEOUT_SECONDS,
                # flightnb's loop thread (see bench_floor.py), unless asked otherwise.
                None if args.floor_loop == "own" else shared_loop_thread().loop,
            ),
        )
        try:
            print(f"[{time.monotonic() - started:6.1f} s] warm-up: {WARMUP_ROUNDS} untimed rounds")
            warm_up(clients, WARMUP_ROUNDS)
            for dataset in DATASETS:
                print(f"[{time.monotonic() - started:6.1f} s] {dataset}: DoGet -> Table")
                rows += measure_table(
                    dataset, args.repeat, clients, settling, started, OtherLoad(pids)
                )
                print(f"[{time.monotonic() - started:6.1f} s] {dataset}: DoGet -> polars")
                rows.append(measure_polars(dataset, args.repeat, clients))
                rows.append(measure_conversion(dataset, args.repeat, clients))
                print(f"[{time.monotonic() - started:6.1f} s] {dataset}: progress cost")
                rows.append(measure_progress(dataset, args.repeat, clients))
        finally:
            clients.peer.close()
            clients.ours.close()
            clients.floor.close()
        for dataset in DATASETS:
            print(f"[{time.monotonic() - started:6.1f} s] {dataset}: peak RSS (subprocesses)")
            rows.append(measure_rss(server, dataset, probes))
        datasets = server.datasets
        other_cores = run_load.cores()  # before the server is gone: its time counts as ours
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    order = {m: i for i, m in enumerate(dict.fromkeys(row.measurement for row in rows))}
    rows.sort(key=lambda row: (order[row.measurement], DATASETS.index(row.dataset)))
    print()
    print("ratio = pyarrow.flight median / flightnb median (> 1: flightnb is faster);")
    print("efficiency rows: the first time column is the grpc.aio floor (a bare DoGet that")
    print("  only receives), ratio = floor / flightnb (1.00x: flightnb costs nothing over it);")
    print("progress row: flightnb without / with text progress; RSS row: peak / table.nbytes;")
    print("per round: the same ratio in each round (RSS: flightnb's factor in each probe);")
    print(
        f"blocks: blocks x rounds, repeated until the medians settle (within {args.tolerance:.0%}"
    )
    print(
        f"  over {SETTLE_BLOCKS} blocks) or reach a cap ({args.max_blocks} blocks or "
        f"{SETTLE_SECONDS:.0f} s); blocks during which other processes used {BUSY_CORES} cores"
    )
    print("  or more are left out (all are used, and marked, if none was quiet)")
    print(format_table(rows))
    missed = [f"{row.measurement} [{row.dataset}]" for row in rows if row.result == "MISS"]
    print(f"\ntargets missed: {', '.join(missed) if missed else 'none'}")
    print(f"elapsed {elapsed:.1f} s, load average before {load_before}, after {load_after}")
    verdict = "quiet" if other_cores < BUSY_CORES else "BUSY: other work competed for the CPU"
    print(f"other processes used {other_cores:.2f} cores on average during the run ({verdict})")
    if args.quick:
        print("(--quick: small datasets; the figures are a smoke test, not a measurement)")

    if args.json is not None:
        report = {
            "environment": env,
            "arguments": {
                "repeat": args.repeat,
                "quick": args.quick,
                "rss_probes": probes,
                "max_blocks": args.max_blocks,
                "tolerance": args.tolerance,
                "floor_loop": args.floor_loop,
            },
            "datasets": datasets,
            "load_average": {"before": load_before, "after": load_after},
            "other_load_cores": other_cores,
            "elapsed_s": elapsed,
            "results": [asdict(row) for row in rows],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
