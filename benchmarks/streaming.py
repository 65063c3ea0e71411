"""Streaming reads and sinks against pyarrow.flight, side by side in one run.

Usage::

    .venv/bin/python benchmarks/streaming.py endpoints   # 8 endpoints on 4 server processes
    .venv/bin/python benchmarks/streaming.py parquet     # >= 2 GiB flight -> Parquet, peak RSS
    .venv/bin/python benchmarks/streaming.py polars      # to="polars", overlapped or not
    .venv/bin/python benchmarks/streaming.py probe [--grpc-option grpc.http2.bdp_probe=0]
    .venv/bin/python benchmarks/streaming.py all [--quick] [--json results.json]

``endpoints``: four ``pyarrow.flight`` server processes; the first plans a flight of 8
endpoints spread over all four (two each), and every endpoint sleeps 20 ms before each of its
25 batches, a stand-in for a remote scan. Contenders, in alternating rounds: a sequential
pyarrow.flight loop over the endpoints, a pyarrow.flight thread pool with one thread per
endpoint, ``flightnb.open_flight(...).read_all()`` and ``flightnb.read_flight``. Each includes
the GetFlightInfo call; the results are checked equal.

``parquet``: one server process serves a ``mixed`` table (bench_data) of ``--gib`` GiB; each
contender runs in a fresh subprocess that measures its peak RSS above the resident size
after its imports: ``flightnb.write_parquet(..., max_buffer_bytes=256 << 20)`` and
pyarrow.flight's ``do_get().to_reader()`` into ``pq.ParquetWriter`` with the same
compression (zstd) and row-group size (2**20 rows, gathered the same way).

``polars``: ``read_flight(..., to="polars")`` on the ``mixed`` dataset, converting the
finished Table (the default) against converting each batch while the rest is received.

Targets are reported as PASS or MISS; they never change the exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as paflight

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MIB = 2**20
SERVER_START_SECONDS = 120.0
SERVER_MAX_SECONDS = 3600.0

ENDPOINTS_VS_SEQUENTIAL = 5.0
ENDPOINTS_VS_POOL = 1.0
PARQUET_RSS_MIB = 640
PARQUET_TIME_RATIO = 0.9


# --- the server processes ------------------------------------------------------------------


class _BenchServer(paflight.FlightServerBase):  # type: ignore[misc]
    """Parts ``part/<k>`` (slow scans), a planned flight over peers, and a big table."""

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self.args = args
        self.big: pa.Table | None = None
        self.parts: dict[int, list[pa.RecordBatch]] = {}
        if args.big_gib:
            from bench_data import mixed_table

            self.big = mixed_table(int(args.big_gib * 1024 * MIB))
        elif args.mixed_mib:
            from bench_data import mixed_table

            self.big = mixed_table(int(args.mixed_mib * MIB))

    def _part(self, k: int) -> Iterator[pa.RecordBatch]:
        # Built once per endpoint: the sleep stands for the scan, the server's CPU is spared
        # for the client under test (this machine may have few cores).
        if k not in self.parts:
            rows, batches = self.args.batch_rows, self.args.batches
            table = pa.table(
                {
                    "endpoint": pa.array([k] * rows * batches, pa.int64()),
                    "i": pa.array(range(k * rows * batches, (k + 1) * rows * batches), pa.int64()),
                    "x": pa.array([float(k)] * rows * batches, pa.float64()),
                }
            )
            self.parts[k] = table.to_batches(max_chunksize=rows)
        for batch in self.parts[k]:
            time.sleep(self.args.delay)
            yield batch

    def get_flight_info(self, context: Any, descriptor: paflight.FlightDescriptor) -> Any:
        peers = self.args.peers.split(",") if self.args.peers else []
        endpoints = [
            paflight.FlightEndpoint(f"part/{k}".encode(), [peers[k % len(peers)]])
            for k in range(self.args.endpoints)
        ]
        return paflight.FlightInfo(_PART_SCHEMA, descriptor, endpoints, -1, -1, True)

    def do_get(self, context: Any, ticket: paflight.Ticket) -> Any:
        name = ticket.ticket.decode()
        if name == "big":
            assert self.big is not None
            return paflight.RecordBatchStream(self.big)
        k = int(name.split("/")[1])
        return paflight.GeneratorStream(_PART_SCHEMA, self._part(k))


_PART_SCHEMA = pa.schema([("endpoint", pa.int64()), ("i", pa.int64()), ("x", pa.float64())])


def serve(args: argparse.Namespace) -> int:
    server = _BenchServer(args)
    print(f"grpc://127.0.0.1:{server.port}", flush=True)
    # Stop when the parent goes away (stdin closes) or after a bound.
    stopper = threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True)
    stopper.start()
    bound = threading.Timer(SERVER_MAX_SECONDS, server.shutdown)
    bound.daemon = True  # must not keep the process alive after serve() returns
    bound.start()
    server.serve()
    return 0


@contextlib.contextmanager
def servers(*argument_lists: list[str]) -> Iterator[list[str]]:
    """Start one server process per argument list; yields their URIs."""
    processes = []
    try:
        for arguments in argument_lists:
            process = subprocess.Popen(
                [sys.executable, __file__, "serve", *arguments],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            processes.append(process)
        uris = []
        for process in processes:
            assert process.stdout is not None
            line = _read_line(process, SERVER_START_SECONDS)
            uris.append(line.decode().strip())
        yield uris
    finally:
        for process in processes:
            with contextlib.suppress(Exception):
                assert process.stdin is not None
                process.stdin.close()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _read_line(process: subprocess.Popen[bytes], timeout: float) -> bytes:
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()))  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not result or not result[0]:
        process.kill()
        raise RuntimeError("a benchmark server did not start")
    return result[0]


# --- measuring -----------------------------------------------------------------------------


def alternate(contenders: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Time each contender once per round, each round starting one contender later."""
    names = list(contenders)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            started = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - started)
    return times


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def bench_endpoints(args: argparse.Namespace) -> dict[str, Any]:
    import flightnb

    batches = 5 if args.quick else 25
    part = ["--batches", str(batches), "--delay", str(args.scan_delay), "--batch-rows", "16384"]
    with servers(part, part, part) as others:
        # The planner lists all four servers, itself included: start it knowing the others,
        # and let it name itself through the reuse-connection URI.
        peers = ",".join(["arrow-flight-reuse-connection://?", *others])
        with servers([*part, "--endpoints", "8", "--peers", peers]) as (planner,):
            uris = [planner, *others]
            peer_clients = {uri: paflight.connect(uri) for uri in uris}
            descriptor = paflight.FlightDescriptor.for_path("bench")

            def location_of(endpoint: paflight.FlightEndpoint) -> str:
                uri = endpoint.locations[0].uri.decode()
                return planner if uri.startswith("arrow-flight-reuse-connection") else uri

            def peer_read(endpoint: paflight.FlightEndpoint) -> pa.Table:
                client = peer_clients[location_of(endpoint)]
                return client.do_get(endpoint.ticket).read_all()

            def sequential() -> pa.Table:
                info = peer_clients[planner].get_flight_info(descriptor)
                return pa.concat_tables([peer_read(e) for e in info.endpoints])

            pool = ThreadPoolExecutor(max_workers=8)

            def threaded() -> pa.Table:
                info = peer_clients[planner].get_flight_info(descriptor)
                return pa.concat_tables(list(pool.map(peer_read, info.endpoints)))

            client = flightnb.FlightClient(planner)

            def ours_stream() -> pa.Table:
                with flightnb.open_flight(client, path="bench", progress=False) as reader:
                    return reader.read_all()

            def ours_read() -> pa.Table:
                return flightnb.read_flight(client, path="bench", progress=False)

            contenders = {
                "pyarrow sequential": sequential,
                "pyarrow pool (8 threads)": threaded,
                "flightnb open_flight": ours_stream,
                "flightnb read_flight": ours_read,
            }
            results = {name: fn() for name, fn in contenders.items()}  # warm-up, and equality
            reference = results["pyarrow sequential"]
            equal = all(table.equals(reference) for table in results.values())
            times = alternate(contenders, args.rounds)
            client.close()
            pool.shutdown()
            for peer in peer_clients.values():
                peer.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours = medians["flightnb open_flight"]
    vs_sequential = medians["pyarrow sequential"] / ours
    vs_pool = medians["pyarrow pool (8 threads)"] / ours
    return {
        "measurement": f"8 endpoints on 4 servers, {batches} batches x {args.scan_delay} s each",
        "rows": reference.num_rows,
        "batches_per_endpoint": batches,
        "rounds": args.rounds,
        "median_seconds": medians,
        "equal_results": equal,
        "vs_sequential": vs_sequential,
        "vs_sequential_target": ENDPOINTS_VS_SEQUENTIAL,
        "vs_sequential_result": _verdict(vs_sequential >= ENDPOINTS_VS_SEQUENTIAL and equal),
        "vs_pool": vs_pool,
        "vs_pool_target": ENDPOINTS_VS_POOL,
        "vs_pool_result": _verdict(vs_pool >= ENDPOINTS_VS_POOL and equal),
        "read_flight_vs_pool": medians["pyarrow pool (8 threads)"]
        / medians["flightnb read_flight"],
    }


# --- parquet, in fresh processes -----------------------------------------------------------


def parquet_child(args: argparse.Namespace) -> int:
    """One write in this fresh process; prints seconds and peak RSS above the baseline."""
    import pyarrow.parquet as pq
    from bench_rss import status_kib

    import flightnb

    row_group_size = args.row_group_size
    if args.client == "peer":
        client = paflight.connect(args.uri)

        def write() -> int:
            reader = client.do_get(paflight.Ticket(b"big")).to_reader()
            rows = 0
            with pq.ParquetWriter(args.out, reader.schema, compression="zstd") as writer:
                pending: list[pa.RecordBatch] = []
                pending_rows = 0
                for batch in reader:
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    if pending_rows >= row_group_size:
                        table = pa.Table.from_batches(pending)
                        whole = (pending_rows // row_group_size) * row_group_size
                        writer.write_table(table.slice(0, whole), row_group_size=row_group_size)
                        rest = table.slice(whole)
                        pending, pending_rows = rest.to_batches(), rest.num_rows
                        rows += whole
                if pending:
                    writer.write_table(
                        pa.Table.from_batches(pending), row_group_size=row_group_size
                    )
                    rows += pending_rows
            return rows
    else:
        client = flightnb.FlightClient(args.uri)

        def write() -> int:
            summary = flightnb.write_parquet(
                client,
                args.out,
                ticket="big",
                row_group_size=row_group_size,
                compression="zstd",
                max_buffer_bytes=args.max_buffer_mib * MIB,
                progress=False,
            )
            return summary.rows

    baseline = status_kib("VmRSS")
    started = time.perf_counter()
    rows = write()
    seconds = time.perf_counter() - started
    peak = status_kib("VmHWM")
    size = os.path.getsize(args.out)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_above_baseline": (peak - baseline) * 1024,
                "rows": rows,
                "file_bytes": size,
            }
        ),
        flush=True,
    )
    client.close()
    return 0


def probe_child(args: argparse.Namespace) -> int:
    """write_parquet's loop, sampling VmRSS and what flightnb holds twice a second.

    ``--grpc-option K=V`` adds a channel option by patching flightnb's channel setup (an
    experiment: the client has no public channel-options argument).
    """
    from bench_rss import status_kib

    import flightnb
    from flightnb.sink_files import _File, _FormatOptions

    if args.grpc_option:
        import flightnb.transport.channels as channels

        original = channels._grpc_options
        extra = [(k, int(v)) for k, v in (kv.split("=", 1) for kv in args.grpc_option)]

        def patched(config: Any, override: Any) -> Any:
            return [*original(config, override), *extra]

        channels._grpc_options = patched  # type: ignore[assignment]
    client = flightnb.FlightClient(args.uri)
    baseline = status_kib("VmRSS")
    started = time.perf_counter()
    reader = flightnb.open_flight(client, ticket="big", progress=False)
    out = _File(Path(args.out), reader.schema, _FormatOptions("parquet", "zstd"))
    samples: list[tuple[int, int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.5):
            rss = (status_kib("VmRSS") - baseline) // 1024
            samples.append((rss, reader.stats.buffered_bytes // MIB, out.pending_bytes // MIB))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    for batch in reader:
        out.write(batch)
        reader.lend_buffer_bytes(out.pending_bytes)
    out.close()
    out.commit()
    done.set()
    sampler.join()
    result = {
        "seconds": time.perf_counter() - started,
        "peak_above_baseline_mib": (status_kib("VmHWM") - baseline) // 1024,
        "peak_buffered_mib": reader.stats.peak_buffered_bytes // MIB,
        "samples_rss_buffered_rowgroup_mib": samples,
        "grpc_options": args.grpc_option,
    }
    print(json.dumps(result), flush=True)
    client.close()
    return 0


def bench_probe(args: argparse.Namespace) -> dict[str, Any]:
    gib = 0.125 if args.quick else args.gib
    runs = []
    with servers(["--big-gib", str(gib)]) as (uri,), tempfile.TemporaryDirectory() as tmp:
        for _ in range(1 if args.quick else args.parquet_rounds):
            command = [
                sys.executable,
                __file__,
                "probe-child",
                "--uri",
                uri,
                "--out",
                str(Path(tmp) / "probe.parquet"),
            ]
            for option in args.grpc_option:
                command += ["--grpc-option", option]
            done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=True)
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return {
        "measurement": f"{gib} GiB -> Parquet, memory probe",
        "grpc_options": args.grpc_option,
        "peak_above_baseline_mib": [r["peak_above_baseline_mib"] for r in runs],
        "seconds": [round(r["seconds"], 2) for r in runs],
        "runs": runs,
    }


def bench_parquet(args: argparse.Namespace) -> dict[str, Any]:
    gib = 0.125 if args.quick else args.gib
    with servers(["--big-gib", str(gib)]) as (uri,), tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "peer": []}
        rounds = 1 if args.quick else args.parquet_rounds
        for r in range(rounds):
            for client in ("ours", "peer") if r % 2 == 0 else ("peer", "ours"):
                out = Path(tmp) / f"{client}.parquet"
                env = {**os.environ, **dict(kv.split("=", 1) for kv in args.child_env)}
                done = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "parquet-child",
                        "--client",
                        client,
                        "--uri",
                        uri,
                        "--out",
                        str(out),
                        "--row-group-size",
                        str(1 << 20),
                    ],
                    capture_output=True,
                    text=True,
                    timeout=1800,
                    check=True,
                    env=env,
                )
                runs[client].append(json.loads(done.stdout.strip().splitlines()[-1]))
                out.unlink()
    ours_s = statistics.median(r["seconds"] for r in runs["ours"])
    peer_s = statistics.median(r["seconds"] for r in runs["peer"])
    ours_rss = max(r["peak_above_baseline"] for r in runs["ours"]) / MIB
    peer_rss = max(r["peak_above_baseline"] for r in runs["peer"]) / MIB
    ratio = peer_s / ours_s
    equal_rows = {r["rows"] for r in runs["ours"] + runs["peer"]}
    return {
        "measurement": f"{gib} GiB flight -> Parquet (zstd, 2**20-row groups)",
        "rounds": rounds,
        "rows": sorted(equal_rows),
        "ours_seconds": ours_s,
        "peer_seconds": peer_s,
        "time_ratio_peer_over_ours": ratio,
        "time_target": PARQUET_TIME_RATIO,
        "time_result": _verdict(ratio >= PARQUET_TIME_RATIO),
        "ours_peak_rss_mib": ours_rss,
        "peer_peak_rss_mib": peer_rss,
        "rss_target_mib": PARQUET_RSS_MIB,
        "rss_result": _verdict(ours_rss <= PARQUET_RSS_MIB),
        "file_bytes": {k: v[0]["file_bytes"] for k, v in runs.items()},
        "child_env": args.child_env,
        "per_round": {
            k: [(round(r["seconds"], 2), round(r["peak_above_baseline"] / MIB)) for r in v]
            for k, v in runs.items()
        },
    }


# --- polars ----------------------------------------------------------------------------------


def bench_polars(args: argparse.Namespace) -> dict[str, Any]:
    import polars as pl

    import flightnb
    from flightnb.convert import to_polars

    mib = 16 if args.quick else 200
    with servers(["--mixed-mib", str(mib)]) as (uri,):
        client = flightnb.FlightClient(uri)

        def whole() -> pl.DataFrame:
            return flightnb.read_flight(client, ticket="big", to="polars", progress=False)

        def overlapped() -> pl.DataFrame:
            with flightnb.open_flight(client, ticket="big", progress=False) as reader:
                frames = [to_polars(pa.Table.from_batches([batch])) for batch in reader]
            return pl.concat(frames, rechunk=False)

        contenders = {"convert the Table": whole, "convert each batch on arrival": overlapped}
        first = {name: fn() for name, fn in contenders.items()}
        equal = first["convert the Table"].equals(first["convert each batch on arrival"])
        times = alternate(contenders, args.rounds)
        client.close()
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "measurement": f"to='polars', mixed dataset ({mib} MiB: strings, dictionary)",
        "rounds": args.rounds,
        "median_seconds": medians,
        "equal_results": equal,
        "overlapped_speedup": medians["convert the Table"]
        / medians["convert each batch on arrival"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "what",
        choices=(
            "endpoints",
            "parquet",
            "polars",
            "probe",
            "all",
            "serve",
            "parquet-child",
            "probe-child",
        ),
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--parquet-rounds", type=int, default=3)
    parser.add_argument("--gib", type=float, default=2.0)
    parser.add_argument("--json")
    parser.add_argument("--scan-delay", type=float, default=0.02, help="endpoints: sleep per batch")
    # serve
    parser.add_argument("--batches", type=int, default=25)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--batch-rows", type=int, default=16384)
    parser.add_argument("--endpoints", type=int, default=8)
    parser.add_argument("--peers", default="")
    parser.add_argument("--big-gib", type=float, default=0.0)
    parser.add_argument("--mixed-mib", type=float, default=0.0)
    # parquet-child
    parser.add_argument("--client", choices=("ours", "peer"))
    parser.add_argument("--uri")
    parser.add_argument("--out")
    parser.add_argument("--row-group-size", type=int, default=1 << 20)
    parser.add_argument("--max-buffer-mib", type=int, default=256)
    parser.add_argument(
        "--grpc-option",
        action="append",
        default=[],
        metavar="K=V",
        help="probe: an extra channel option, e.g. grpc.http2.bdp_probe=0",
    )
    parser.add_argument(
        "--child-env",
        action="append",
        default=[],
        metavar="K=V",
        help="parquet: environment of both writer processes (e.g. MALLOC_MMAP_THRESHOLD_=1048576)",
    )
    args = parser.parse_args(argv)
    if args.what == "serve":
        return serve(args)
    if args.what == "parquet-child":
        return parquet_child(args)
    if args.what == "probe-child":
        return probe_child(args)
    benches = {
        "endpoints": bench_endpoints,
        "parquet": bench_parquet,
        "polars": bench_polars,
        "probe": bench_probe,
    }
    chosen = ["endpoints", "parquet", "polars"] if args.what == "all" else [args.what]
    results = []
    for name in chosen:
        result = benches[name](args)
        results.append(result)
        print(json.dumps(result, indent=2), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
