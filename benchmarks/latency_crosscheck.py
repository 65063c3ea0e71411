"""A second opinion on ``latency.py``: the same race through a proxy built another way.

Usage::

    .venv/bin/python benchmarks/latency_crosscheck.py --rtt 100 --rounds 6
    .venv/bin/python benchmarks/latency_crosscheck.py --rtt 50 --batch-rows 0  # one batch
    .venv/bin/python benchmarks/latency_crosscheck.py --rtt 100 --endpoints 8 --servers 4

``latency.py``'s proxy is asyncio with a token bucket. This one is plain threads: a reader
per direction stamps each chunk with its arrival and queues it (the queue is unbounded, a
router with a deep buffer), a writer sends it half the round trip later and no sooner than
the previous chunk's bytes have left at ``--rate-mbit``. The server is a ``pyarrow.flight``
process answering DoGet with a table of ``--rows`` rows of 8 int64 columns (2 million:
122 MiB), in batches of ``--batch-rows`` rows (0: the table as one batch, one message). Each
read is a fresh process that imports its client before its clock starts: pyarrow.flight's
``do_get(...).read_all()`` against ``flightnb.read_flight(uri, ticket=...)``, with aligned
and unaligned buffers; and a floor, the barest grpc.aio read with flightnb's channel
settings (fixed window, unlimited message size): GetFlightInfo, then every DoGet at once,
each message kept as the ``bytes`` grpcio hands over, nothing decoded; no grpc.aio client
can be faster than that. With ``--endpoints N --servers S`` the table is split into N row
ranges served by S server processes, each behind a proxy of its own, and a planning server
(behind its own proxy too) answers GetFlightInfo with the N endpoints; pyarrow.flight then
reads them with a pool of N threads and a client per location (the plan fetched first, as
any pyarrow.flight user must), flightnb with ``read_flight(uri, command=...)``. The
contenders alternate, each round starting with another one, and every result is checked
(rows, a probe value, and the sum of a column). Loopback only.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

CONTENDERS = ("pyarrow", "flightnb", "flightnb-unaligned", "grpc.aio-floor")
PROBE_ROW = 12_345


def _forward(source: socket.socket, sink: socket.socket, delay: float, rate: float) -> None:
    chunks: collections.deque[tuple[float, bytes]] = collections.deque()
    ready = threading.Condition()

    def read() -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            with ready:
                chunks.append((time.monotonic() + delay, data))
                ready.notify()
            if not data:
                return

    def write() -> None:
        link_free_at = 0.0
        while True:
            with ready:
                ready.wait_for(lambda: bool(chunks))
                due, data = chunks.popleft()
            start = max(due, link_free_at)
            wait = start - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not data:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            try:
                sink.sendall(data)
            except OSError:
                return
            link_free_at = max(time.monotonic(), start) + len(data) / rate

    threading.Thread(target=read, daemon=True).start()
    threading.Thread(target=write, daemon=True).start()


def proxy_main(target_port: int, rtt_ms: float, rate_mbit: float) -> None:
    """Serve the delaying link to ``127.0.0.1:target_port``; prints its own port."""
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        client, _ = listener.accept()
        server = socket.create_connection(("127.0.0.1", target_port))
        for end in (client, server):
            end.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        delay, rate = rtt_ms / 2000, rate_mbit * 1e6 / 8
        _forward(client, server, delay, rate)
        _forward(server, client, delay, rate)


def _table(rows: int, batch_rows: int) -> object:
    import numpy as np
    import pyarrow as pa

    table = pa.table({f"c{i}": np.arange(rows, dtype=np.int64) * (i + 1) for i in range(8)})
    if batch_rows:
        table = pa.Table.from_batches(table.to_batches(max_chunksize=batch_rows))
    return table


def _row_range(endpoint: int, endpoints: int, rows: int) -> tuple[int, int]:
    return endpoint * rows // endpoints, (endpoint + 1) * rows // endpoints


def server_main(rows: int, batch_rows: int, endpoints: int) -> None:
    """A pyarrow.flight server answering DoGet; prints its port.

    Ticket ``table`` gets the whole table; ticket ``e<i>`` the i-th of ``endpoints`` row
    ranges, sliced from the table built whole and re-batched, so its batches are as a
    server holding only that range would send them.
    """
    import pyarrow as pa
    import pyarrow.flight as flight

    table = _table(rows, 0)
    parts = {b"table": _table(rows, batch_rows)}
    for endpoint in range(endpoints if endpoints > 1 else 0):
        start, stop = _row_range(endpoint, endpoints, rows)
        part = table.slice(start, stop - start).combine_chunks()
        if batch_rows:
            part = pa.Table.from_batches(part.to_batches(max_chunksize=batch_rows))
        parts[f"e{endpoint}".encode()] = part

    class Server(flight.FlightServerBase):  # type: ignore[misc]
        def do_get(self, context: object, ticket: object) -> object:
            return flight.RecordBatchStream(parts[ticket.ticket])  # type: ignore[attr-defined]

    server = Server("grpc://127.0.0.1:0")
    print(server.port, flush=True)
    server.serve()


def planner_main(rows: int, locations: list[str]) -> None:
    """A pyarrow.flight server whose GetFlightInfo names one endpoint per location."""
    import pyarrow.flight as flight

    schema = _table(1, 0).schema  # type: ignore[attr-defined]
    endpoints = [
        flight.FlightEndpoint(f"e{index}".encode(), [location])
        for index, location in enumerate(locations)
    ]

    class Planner(flight.FlightServerBase):  # type: ignore[misc]
        def get_flight_info(self, context: object, descriptor: object) -> object:
            return flight.FlightInfo(schema, descriptor, endpoints, rows, -1)

    server = Planner("grpc://127.0.0.1:0")
    print(server.port, flush=True)
    server.serve()


def child_main(contender: str, uri: str, planned: bool) -> None:
    """One read, timed from after the imports; prints seconds, rows, a probe value, a sum.

    ``planned``: ask ``uri`` for the plan (GetFlightInfo), then read its endpoints.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if contender == "pyarrow":
        from concurrent.futures import ThreadPoolExecutor

        import pyarrow.flight as flight

        started = time.perf_counter()  # flightnb's clock includes making its client too
        client = flight.connect(uri)
        if planned:
            info = client.get_flight_info(flight.FlightDescriptor.for_command(b"plan"))
            clients = {
                location.uri.decode(): flight.connect(location)
                for endpoint in info.endpoints
                for location in endpoint.locations
            }

            def read(endpoint: object) -> object:
                where = endpoint.locations[0].uri.decode()  # type: ignore[attr-defined]
                return clients[where].do_get(endpoint.ticket).read_all()  # type: ignore[attr-defined]

            with ThreadPoolExecutor(max_workers=len(info.endpoints)) as pool:
                table = pa.concat_tables(pool.map(read, info.endpoints))
        else:
            table = client.do_get(flight.Ticket(b"table")).read_all()
    elif contender == "grpc.aio-floor":
        import asyncio

        import grpc.aio  # noqa: F401  (loaded before the clock, as the others' clients are)

        import flightnb.transport.channels

        started = time.perf_counter()
        kept, finished = asyncio.run(_floor_read(uri, planned))
        elapsed = finished - started  # its channels' closing is not counted: a floor
        # Nothing is decoded, so there is no table to check: report the bytes received.
        print(elapsed, rows_hint(kept), 0, 0)
        return
    else:
        import flightnb
        import flightnb.client.aio  # the client loads on first use: not timed

        options: dict[str, object] = {"progress": False}
        if contender.endswith("unaligned"):
            options["align_buffers"] = False
        request = {"command": b"plan"} if planned else {"ticket": b"table"}
        started = time.perf_counter()
        table = flightnb.read_flight(uri, **request, **options)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - started
    total = pc.sum(table.column("c7")).as_py()
    print(elapsed, table.num_rows, table.column("c7")[PROBE_ROW].as_py(), total)


def rows_hint(kept: list[bytes]) -> int:
    """Bytes the floor received (it decodes nothing, so rows are not known)."""
    return sum(len(message) for message in kept)


async def _floor_read(uri: str, planned: bool) -> tuple[list[bytes], float]:
    """GetFlightInfo, then every DoGet at once on a channel per location.

    Returns every message, as grpcio handed it over, and when the last one arrived.
    """
    import asyncio

    import grpc.aio
    from bench_floor import CHANNEL_OPTIONS, DOGET

    from flightnb._proto import Flight_pb2 as pb
    from flightnb.transport.channels import STREAM_WINDOW_BYTES

    # The floor's limits (benchmarks/bench_floor.py), with flightnb's window settings.
    options = [
        *CHANNEL_OPTIONS,
        ("grpc.http2.bdp_probe", 0),
        ("grpc.http2.lookahead_bytes", STREAM_WINDOW_BYTES),
    ]
    channels: dict[str, grpc.aio.Channel] = {}

    def channel(where: str) -> grpc.aio.Channel:
        if where not in channels:
            target = where.removeprefix("grpc://").removeprefix("grpc+tcp://")
            channels[where] = grpc.aio.insecure_channel(target, options=options)
        return channels[where]

    async def do_get(where: str, ticket: bytes) -> list[bytes]:
        call = channel(where).unary_stream(
            DOGET,
            request_serializer=pb.Ticket.SerializeToString,
            response_deserializer=None,
        )(pb.Ticket(ticket=ticket))
        got = []
        while (message := await call.read()) is not grpc.aio.EOF:
            got.append(message)
        return got

    try:
        if not planned:
            whole = await do_get(uri, b"table")
            return whole, time.perf_counter()
        info = await channel(uri).unary_unary(
            "/arrow.flight.protocol.FlightService/GetFlightInfo",
            request_serializer=pb.FlightDescriptor.SerializeToString,
            response_deserializer=pb.FlightInfo.FromString,
        )(pb.FlightDescriptor(type=pb.FlightDescriptor.CMD, cmd=b"plan"))
        reads = [do_get(e.location[0].uri, e.ticket.ticket) for e in info.endpoint]
        kept = [message for got in await asyncio.gather(*reads) for message in got]
        return kept, time.perf_counter()
    finally:
        for opened in channels.values():
            await opened.close()


def _spawn(*args: str, cpus: set[int] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start a role of this script (on ``cpus`` only, if given); returns it and its port."""

    def pin() -> None:
        if cpus:
            os.sched_setaffinity(0, cpus)

    process = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, preexec_fn=pin
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _start_servers(
    rtt_ms: float,
    rate_mbit: float,
    rows: int,
    batch_rows: int,
    endpoints: int,
    servers: int,
    cpus: set[int] | None,
) -> tuple[list[subprocess.Popen[str]], str]:
    """The servers and their proxies; returns them and the URI a client starts from.

    ``cpus``: the CPUs the servers and proxies may use (None: any), so that the emulated
    link, whose copying a real link would not charge to the client's machine, can be kept
    off the CPUs the contenders run on.
    """
    link = (str(rtt_ms), str(rate_mbit))
    processes: list[subprocess.Popen[str]] = []
    try:
        if endpoints == 1:
            server, port = _spawn("serve", str(rows), str(batch_rows), "1", cpus=cpus)
            proxy, proxy_port = _spawn("proxy", port, *link, cpus=cpus)
            processes += [server, proxy]
            return processes, f"grpc://127.0.0.1:{proxy_port}"
        locations = []
        for _ in range(servers):
            server, port = _spawn("serve", str(rows), str(batch_rows), str(endpoints), cpus=cpus)
            proxy, proxy_port = _spawn("proxy", port, *link, cpus=cpus)
            processes += [server, proxy]
            locations.append(f"grpc://127.0.0.1:{proxy_port}")
        spread = [locations[index % servers] for index in range(endpoints)]
        planner, port = _spawn("plan", str(rows), *spread, cpus=cpus)
        proxy, proxy_port = _spawn("proxy", port, *link, cpus=cpus)
        processes += [planner, proxy]
        return processes, f"grpc://127.0.0.1:{proxy_port}"
    except BaseException:
        for process in processes:
            process.kill()
        raise


def run(
    rtt_ms: float,
    rate_mbit: float,
    rounds: int,
    rows: int,
    batch_rows: int,
    endpoints: int = 1,
    servers: int = 1,
    link_cpus: set[int] | None = None,
) -> None:
    processes, uri = _start_servers(
        rtt_ms, rate_mbit, rows, batch_rows, endpoints, servers, link_cpus
    )
    expected_sum = sum(range(rows)) * 8
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    try:
        with tempfile.TemporaryDirectory() as runtime:  # no server token to find here
            env = dict(os.environ, FLIGHTNB_RUNTIME_DIR=runtime)
            for round_ in range(rounds):
                shift = round_ % len(CONTENDERS)
                for name in CONTENDERS[shift:] + CONTENDERS[:shift]:
                    done = subprocess.run(
                        [sys.executable, __file__, "child", name, uri, str(int(endpoints > 1))],
                        capture_output=True,
                        text=True,
                        env=env,
                        timeout=300,
                        check=True,
                    )
                    seconds, got_rows, probe, total = done.stdout.split()
                    times[name].append(float(seconds))
                    if name == "grpc.aio-floor":  # bytes, not rows: at least the columns'
                        assert int(got_rows) >= rows * 8 * 8, done.stdout
                        continue
                    assert int(got_rows) == rows, done.stdout
                    assert int(probe) == PROBE_ROW * 8, done.stdout
                    assert int(total) == expected_sum, done.stdout
    finally:
        for process in processes:
            process.kill()
    shape = f"{batch_rows}-row batches" if batch_rows else "one batch"
    where = f", {endpoints} endpoints on {servers} servers" if endpoints > 1 else ""
    pinned = f", link on CPUs {sorted(link_cpus)}" if link_cpus else ""
    print(f"{rtt_ms:g} ms, {rate_mbit:g} Mbit/s, {shape}{where}, {rounds} rounds{pinned}")
    for name, values in times.items():
        spread = f"{min(values):.2f}-{max(values):.2f}"
        print(f"  {name:20s} median {statistics.median(values):.2f} s [{spread}]")
    baseline = statistics.median(times["pyarrow"])
    for name in CONTENDERS[1:]:
        print(f"  pyarrow / {name}: {baseline / statistics.median(times[name]):.2f}x")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("serve", "plan", "proxy", "child"):
        role, args = sys.argv[1], sys.argv[2:]
        if role == "serve":
            server_main(int(args[0]), int(args[1]), int(args[2]))
        elif role == "plan":
            planner_main(int(args[0]), args[1:])
        elif role == "proxy":
            proxy_main(int(args[0]), float(args[1]), float(args[2]))
        else:
            child_main(args[0], args[1], args[2] == "1")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtt", type=float, default=100.0, help="round trip in ms")
    parser.add_argument("--rate-mbit", type=float, default=800.0)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rows", type=int, default=2_000_000, help="of 8 int64 columns")
    parser.add_argument("--batch-rows", type=int, default=65536, help="0: one batch")
    parser.add_argument("--endpoints", type=int, default=1, help="row ranges in the plan")
    parser.add_argument("--servers", type=int, default=4, help="processes serving them")
    parser.add_argument(
        "--link-cpus",
        default="",
        help="CPUs for the servers and proxies, e.g. 1 or 2-3 (default: any)",
    )
    args = parser.parse_args()
    if args.rows <= PROBE_ROW:
        parser.error(f"--rows must be above {PROBE_ROW}")
    if args.endpoints < 1 or args.servers < 1:
        parser.error("--endpoints and --servers must be at least 1")
    servers = min(args.servers, args.endpoints)
    link_cpus = _cpu_list(args.link_cpus) if args.link_cpus else None
    run(
        args.rtt,
        args.rate_mbit,
        args.rounds,
        args.rows,
        args.batch_rows,
        args.endpoints,
        servers,
        link_cpus,
    )


def _cpu_list(text: str) -> set[int]:
    """``1,3`` or ``2-3`` as a set of CPU numbers."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


if __name__ == "__main__":
    main()
