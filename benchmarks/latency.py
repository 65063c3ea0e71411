"""Reads over long links: flightnb against pyarrow.flight through a delaying, rate-capping proxy.

Usage::

    .venv/bin/python benchmarks/latency.py                      # 0/20/50/100 ms, 3 rounds
    .venv/bin/python benchmarks/latency.py --rtts 100 --rounds 3 --json latency.json
    .venv/bin/python benchmarks/latency.py --first-batch        # time to first batch, + TLS
    .venv/bin/python benchmarks/latency.py --rtts 100 --what single \\
        --grpc-option grpc.http2.lookahead_bytes=16777216     # try a channel argument
    .venv/bin/python benchmarks/latency.py loopback --windows 4,16  # no proxy: floor, windows
    .venv/bin/python benchmarks/latency.py held --windows 4,16,64   # a stalled reader's backlog

There is no netem here, so the link is a TCP proxy in user space (its own process, asyncio):
every chunk it reads waits half the round trip before it is written on, in each direction,
and leaves no faster than ``--rate-mbit`` (a token bucket of one chunk); a new connection
forwards nothing for one round trip, as TCP's handshake would. Bytes waiting in the proxy
are bounded by what the link holds (rate times the one-way delay) plus 4 MiB, so a
sender that outruns the link is pushed back by TCP, as by a router's queue.

Servers are ``pyarrow.flight`` processes. ``single``: one server holds a table of
``--mib`` MiB (int64 columns, 64k-row batches) and answers GetFlightInfo with one endpoint
on the same connection. ``eight``: four servers behind four proxies, the first plans 8
endpoints, two on each (each an eighth of the table). Each read is a fresh process that
connects, calls GetFlightInfo and reads every endpoint: pyarrow.flight (one endpoint, or an
8-thread pool with a client per location) against ``flightnb.open_flight``. The contenders
alternate, each round starting with the other. Each child reports its time, the time to its
first batch (in round trips), the peak RSS above its post-import resident size, its CPU
time, and a checksum of its table (results must agree); the proxy reports the connections it
accepted, the calls made on them (HTTP/2 requests, plaintext only) and its own CPU time, and
the runner the servers' CPU time, so a run shows whether the link or a server was the limit.
``first`` reads a flight of one 32 KiB batch, for the time to the first batch
(``--first-batch``: only that, plain and TLS, at 0, 50 and 100 ms).

``--tls`` runs the time-to-first-batch probe over TLS too (a small flight, certificates made
on the fly). Load (``/proc/loadavg``) is printed with every figure: on a loaded machine,
repeat on a quiet one and judge ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MIB = 2**20
COLUMNS = 8
BATCH_ROWS = 65_536
#: The time-to-first-batch probe reads one batch of 32 KiB: under any initial HTTP/2 window.
FIRST_BATCH_ROWS = 512
CHUNK_BYTES = 256 << 10
QUEUE_SLACK_BYTES = 4 * MIB
START_SECONDS = 120.0
CHILD_SECONDS = 600.0


# --- the proxy -----------------------------------------------------------------------------


class _Requests:
    """Counts the calls a client starts on one plaintext HTTP/2 connection.

    Each new stream's HEADERS frame is one gRPC call; over TLS the frames cannot be read and
    nothing is counted.
    """

    PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

    def __init__(self, counters: dict[str, int], timeline: list[float], opened: float) -> None:
        self.counters = counters
        self.timeline = timeline
        self.opened = opened
        self.pending = bytearray()
        self.streams: set[int] = set()
        self.state = "preface"

    def feed(self, data: bytes) -> None:
        if self.state == "off":
            return
        self.pending += data
        if self.state == "preface":
            if len(self.pending) < len(self.PREFACE):
                return
            if not self.pending.startswith(self.PREFACE):
                self.state = "off"  # TLS, or not HTTP/2
                return
            del self.pending[: len(self.PREFACE)]
            self.state = "frames"
        while len(self.pending) >= 9:
            length = int.from_bytes(self.pending[:3], "big")
            if len(self.pending) < 9 + length:
                return
            stream = int.from_bytes(self.pending[5:9], "big") & 0x7FFF_FFFF
            if self.pending[3] == 1 and stream not in self.streams:  # HEADERS
                self.streams.add(stream)
                self.counters["requests"] += 1
                # When the call reached the proxy, in ms after the client's connection did.
                elapsed = asyncio.get_running_loop().time() - self.opened
                self.timeline.append(round(elapsed * 1000, 1))
            del self.pending[: 9 + length]


class _Link:
    """One direction of one connection: delay each chunk, then pace it to the rate."""

    def __init__(
        self,
        one_way: float,
        rate: float,
        counters: dict[str, int],
        key: str,
        requests: _Requests | None = None,
    ) -> None:
        self.one_way = one_way
        self.rate = rate
        self.counters = counters
        self.key = key
        self.requests = requests
        self.capacity = int(rate * one_way) + QUEUE_SLACK_BYTES if rate else 1 << 62
        self.queued = 0
        self.chunks: deque[tuple[float, bytes]] = deque()
        self.arrived = asyncio.Event()
        self.drained = asyncio.Event()

    async def take_in(self, reader: asyncio.StreamReader) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while self.queued >= self.capacity:
                self.drained.clear()
                await self.drained.wait()
            data = await reader.read(CHUNK_BYTES)
            if self.requests is not None:
                self.requests.feed(data)
            self.chunks.append((loop.time() + self.one_way, data))
            self.queued += len(data)
            self.arrived.set()
            if not data:
                return

    async def give_out(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        free_at = 0.0
        try:
            while True:
                while not self.chunks:
                    self.arrived.clear()
                    await self.arrived.wait()
                due, data = self.chunks.popleft()
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                now = loop.time()
                start = max(due, free_at, now)
                if self.rate:
                    free_at = start + len(data) / self.rate
                if start > now:
                    await asyncio.sleep(start - now)
                writer.write(data)
                self.counters[self.key] += len(data)
                await writer.drain()
                self.queued -= len(data)
                self.drained.set()
        except ConnectionError:
            return


async def _proxy(upstreams: list[str], rtt: float, rate: float) -> None:
    counters = {"connections": 0, "requests": 0, "bytes_up": 0, "bytes_down": 0}
    timeline: list[float] = []

    def handler(upstream: str) -> Any:
        host, _, port = upstream.rpartition(":")

        async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
            counters["connections"] += 1
            opened = asyncio.get_running_loop().time()
            try:
                s_reader, s_writer = await asyncio.open_connection(host, int(port))
            except OSError:
                c_writer.close()
                return
            # The proxy accepts on loopback at once; over a real link TCP's handshake takes
            # a round trip before the client's first bytes can leave.
            await asyncio.sleep(rtt)
            requests = _Requests(counters, timeline, opened)
            up = _Link(rtt / 2, rate, counters, "bytes_up", requests)
            down = _Link(rtt / 2, rate, counters, "bytes_down")
            parts = [
                up.take_in(c_reader),
                up.give_out(s_writer),
                down.take_in(s_reader),
                down.give_out(c_writer),
            ]
            with contextlib.suppress(ConnectionError, OSError):
                await asyncio.gather(*parts)
            for writer in (c_writer, s_writer):
                writer.close()

        return handle

    servers = [await asyncio.start_server(handler(u), "127.0.0.1", 0) for u in upstreams]
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    print(json.dumps({"ports": ports}), flush=True)
    loop = asyncio.get_running_loop()
    # One command a line on stdin: "stats" prints and resets the counters, with the proxy's
    # CPU time since the last "stats" (is the link itself the limit?); EOF stops.
    cpu_mark = _cpu_seconds()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cpu_now = _cpu_seconds()
        stats = {**counters, "proxy_cpu_seconds": cpu_now - cpu_mark, "call_ms": timeline[:]}
        print(json.dumps(stats), flush=True)
        cpu_mark = cpu_now
        timeline.clear()
        for key in counters:
            counters[key] = 0
    for server in servers:
        server.close()


# --- the server ----------------------------------------------------------------------------


def _table(rows: int, seed: int = 0) -> Any:
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    columns = {f"c{i}": rng.integers(0, 1 << 62, rows, dtype=np.int64) for i in range(COLUMNS)}
    return pa.table(columns)


def serve(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.flight as paflight

    table = _table(args.rows)
    parts = 8

    class Server(paflight.FlightServerBase):  # type: ignore[misc]
        def get_flight_info(self, context: Any, descriptor: Any) -> Any:
            plan = json.loads(descriptor.command)
            peers = plan["peers"]
            if not peers:
                endpoints = [paflight.FlightEndpoint(json.dumps([0, plan["rows"]]), [])]
            else:
                step = plan["rows"] // parts
                endpoints = [
                    paflight.FlightEndpoint(json.dumps([k * step, step]), [peers[k % len(peers)]])
                    for k in range(parts)
                ]
            return paflight.FlightInfo(table.schema, descriptor, endpoints, -1, -1)

        def do_get(self, context: Any, ticket: Any) -> Any:
            offset, length = json.loads(ticket.ticket)
            chunk = table.slice(offset, length).combine_chunks()
            return paflight.RecordBatchStream(
                pa.Table.from_batches(chunk.to_batches(max_chunksize=BATCH_ROWS))
            )

    tls = []
    if args.cert:
        tls = [paflight.CertKeyPair(Path(args.cert).read_bytes(), Path(args.key).read_bytes())]
    scheme = "grpc+tls" if tls else "grpc"
    server = Server(f"{scheme}://127.0.0.1:0", tls_certificates=tls)
    print(json.dumps({"port": server.port}), flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
    server.serve()
    return 0


def _certificates(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --- one read, in a fresh process ----------------------------------------------------------


def child(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.flight as paflight
    from bench_rss import status_kib

    import flightnb

    # flightnb imports its client (and grpc) on first use; import it here, before the
    # baseline and the clock, as pyarrow.flight is imported above.
    flightnb.open_flight  # noqa: B018
    roots = Path(args.roots).read_bytes() if args.roots else None
    descriptor = paflight.FlightDescriptor.for_command(args.command)
    extra = [_option(text) for text in args.grpc_option]
    baseline = status_kib("VmRSS")
    cpu_before = _cpu_seconds()
    started = first_at = time.perf_counter()
    batches: list[pa.RecordBatch] = []
    if args.client == "pyarrow":
        from concurrent.futures import ThreadPoolExecutor

        options = {"tls_root_certs": roots} if roots else {}
        clients = {args.uri: paflight.connect(args.uri, **options)}
        info = clients[args.uri].get_flight_info(descriptor)
        first: list[float] = []

        def read(endpoint: Any) -> list[pa.RecordBatch]:
            uri = endpoint.locations[0].uri.decode() if endpoint.locations else args.uri
            if uri not in clients:  # one thread per endpoint: a client per location
                clients[uri] = paflight.connect(uri, **options)
            reader = clients[uri].do_get(endpoint.ticket)
            got = []
            with contextlib.suppress(StopIteration):
                while True:
                    got.append(reader.read_chunk().data)
                    if not first:
                        first.append(time.perf_counter())
            return got

        if len(info.endpoints) == 1:
            batches = read(info.endpoints[0])
        else:
            # Connect to each location first, so the pool's threads do not race to.
            for endpoint in info.endpoints:
                uri = endpoint.locations[0].uri.decode()
                clients.setdefault(uri, paflight.connect(uri, **options))
            with ThreadPoolExecutor(max_workers=len(info.endpoints)) as pool:
                for got in pool.map(read, info.endpoints):
                    batches.extend(got)
        first_at = first[0]
    else:
        options = {"tls_root_certs": roots} if roots else {}
        if extra:
            options["grpc_options"] = extra
        if args.unaligned:
            options["align_buffers"] = False
        with flightnb.open_flight(
            args.uri, descriptor=descriptor, progress=False, **options
        ) as reader:
            for batch in reader:
                if not batches:
                    first_at = time.perf_counter()
                batches.append(batch)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    peak = status_kib("VmHWM") - baseline
    table = pa.Table.from_batches(batches)
    checksum = [int(pc.sum(table[name]).as_py() % (1 << 61)) for name in table.column_names]
    print(
        json.dumps(
            {
                "seconds": elapsed,
                "first_batch_seconds": first_at - started,
                "rows": table.num_rows,
                "checksum": checksum,
                "peak_mib": peak / 1024,
                "cpu_seconds": cpu,
            }
        ),
        flush=True,
    )
    return 0


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _option(text: str) -> tuple[str, int | str]:
    name, _, value = text.partition("=")
    return (name, int(value)) if value.lstrip("-").isdigit() else (name, value)


# --- the loopback check: does the window cost a whole-table read anything? -------------------


def loopback(args: argparse.Namespace) -> int:
    """Alternate whole-table reads on loopback: the grpc.aio floor and flightnb per window."""
    from bench_floor import GrpcFloor
    from run import running_server

    import flightnb

    windows = [int(value) << 20 for value in args.windows.split(",")]
    with running_server("full", 3600) as server:
        floor = GrpcFloor(server.uri.removeprefix("grpc://"), timeout=300)
        clients = {
            f"flightnb, {w >> 20} MiB window": flightnb.FlightClient(
                server.uri, grpc_options={"grpc.http2.lookahead_bytes": w}
            )
            for w in windows
        }
        contenders: dict[str, Any] = {"grpc.aio floor": lambda: floor.receive(b"int64")}
        for name, client in clients.items():
            contenders[name] = lambda c=client: c.do_get(b"int64").read_all()
        for run in contenders.values():  # warm-up
            run()
        times: dict[str, list[float]] = {name: [] for name in contenders}
        names = list(contenders)
        for r in range(args.rounds):
            load = _loadavg()
            for name in names[r % len(names) :] + names[: r % len(names)]:
                started = time.perf_counter()
                contenders[name]()
                times[name].append(time.perf_counter() - started)
            print(f"round {r + 1}: load {load}", flush=True)
        for client in clients.values():
            client.close()
        floor.close()
    floor_median = statistics.median(times["grpc.aio floor"])
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"{name:<28} median {median:.3f} s [{min(values):.3f}-{max(values):.3f}] "
            f"floor/this {floor_median / median:.2f}x",
            flush=True,
        )
    return 0


# --- what a stalled stream lets the server send, per window ---------------------------------


def held(args: argparse.Namespace) -> int:
    """A reader that takes one batch and stops: how far does the server get, per window?"""
    import pyarrow as pa
    import pyarrow.flight as paflight

    import flightnb

    batch = _table(BATCH_ROWS // 4).to_batches()[0]  # 1 MiB
    sent = [0]

    class Server(paflight.FlightServerBase):  # type: ignore[misc]
        def do_get(self, context: Any, ticket: Any) -> Any:
            def batches() -> Iterator[pa.RecordBatch]:
                for _ in range(args.batches):
                    sent[0] += 1
                    yield batch

            return paflight.GeneratorStream(batch.schema, batches())

    server = Server("grpc://127.0.0.1:0")
    uri = f"grpc://127.0.0.1:{server.port}"
    settings: list[tuple[str, list[tuple[str, int | str]]]] = [
        (f"{w} MiB window", [("grpc.http2.lookahead_bytes", w << 20)])
        for w in (int(v) for v in args.windows.split(","))
    ]
    settings.append(("grpc's BDP probing", [("grpc.http2.bdp_probe", 1)]))
    for label, options in settings:
        sent[0] = 0
        with flightnb.open_flight(
            uri,
            ticket="x",
            max_buffer_bytes=args.buffer_mib << 20,
            progress=False,
            grpc_options=options,
        ) as reader:
            next(reader)
            last, stable_since = -1, time.monotonic()
            while time.monotonic() - stable_since < args.settle:
                if sent[0] != last:
                    last, stable_since = sent[0], time.monotonic()
                time.sleep(0.05)
            count = sent[0]
            for _ in reader:
                pass
        print(
            f"{label:<22} buffer {args.buffer_mib} MiB: the server sent {count} MiB "
            f"before the stalled reader stopped it (load {_loadavg()})",
            flush=True,
        )
    server.shutdown()
    return 0


# --- the runner ----------------------------------------------------------------------------


class _Process:
    """A helper process of this script that prints one JSON line once it is ready."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = self.line(START_SECONDS)

    def line(self, timeout: float) -> dict[str, Any]:
        got: list[str] = []
        reader = threading.Thread(target=lambda: got.append(self.process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        if not got or not got[0]:
            self.process.kill()
            raise RuntimeError(f"a helper ({self.process.args[2]}) did not answer")
        value: dict[str, Any] = json.loads(got[0])
        return value

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.line(30)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@contextlib.contextmanager
def helpers(*argument_lists: list[str]) -> Iterator[list[_Process]]:
    started: list[_Process] = []
    try:
        for arguments in argument_lists:
            started.append(_Process(*arguments))
        yield started
    finally:
        for process in started:
            process.stop()


def _process_cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes (Linux ``/proc/<pid>/stat``)."""
    import os

    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def _loadavg() -> str:
    with open("/proc/loadavg", encoding="ascii") as file:
        return " ".join(file.read().split()[:3])


def run_child(client: str, uri: str, command: str, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "child", client, uri, command]
    if args.roots:
        argv += ["--roots", args.roots]
    for option in args.grpc_option:
        argv += ["--grpc-option", option]
    if args.unaligned:
        argv.append("--unaligned")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=CHILD_SECONDS, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{client} read failed: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(
    label: str,
    uri: str,
    command: str,
    proxy: _Process,
    rtt: float,
    args: argparse.Namespace,
    servers: list[_Process] | None = None,
) -> dict[str, Any]:
    """Alternate the two contenders for ``args.rounds`` rounds; medians and spreads."""
    server_pids = [server.process.pid for server in servers or []]
    names = ["pyarrow.flight", "flightnb"]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    load = []
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            proxy.ask("stats")  # reset
            load.append(_loadavg())
            client = "pyarrow" if name == "pyarrow.flight" else "flightnb"
            servers_before = _process_cpu_seconds(server_pids)
            result = run_child(client, uri, command, args)
            result["servers_cpu_seconds"] = _process_cpu_seconds(server_pids) - servers_before
            result.update(proxy.ask("stats"))
            runs[name].append(result)
    checks = {tuple(run["checksum"]) for results in runs.values() for run in results}
    summary: dict[str, Any] = {
        "case": label,
        "rtt_ms": rtt * 1000,
        "rate_mbit": args.rate_mbit,
        "rounds": args.rounds,
        "equal_results": len(checks) == 1,
        "load": load,
    }
    for name, results in runs.items():
        seconds = sorted(run["seconds"] for run in results)
        first = [run["first_batch_seconds"] for run in results]
        summary[name] = {
            "median_s": statistics.median(seconds),
            "min_s": seconds[0],
            "max_s": seconds[-1],
            "first_batch_s": statistics.median(first),
            "first_batch_rtts": statistics.median(first) / rtt if rtt else None,
            "connections": statistics.median(run["connections"] for run in results),
            "requests": statistics.median(run["requests"] for run in results),
            "proxy_cpu_s": statistics.median(run["proxy_cpu_seconds"] for run in results),
            "servers_cpu_s": statistics.median(run["servers_cpu_seconds"] for run in results),
            "call_ms": [run["call_ms"] for run in results],
            "peak_mib": max(run["peak_mib"] for run in results),
            "cpu_s": statistics.median(run["cpu_seconds"] for run in results),
        }
    summary["ratio"] = summary["pyarrow.flight"]["median_s"] / summary["flightnb"]["median_s"]
    per_round = [
        a["seconds"] / b["seconds"]
        for a, b in zip(runs["pyarrow.flight"], runs["flightnb"], strict=True)
    ]
    summary["ratio_per_round"] = sorted(per_round)
    return summary


def _print(summary: dict[str, Any]) -> None:
    ours, theirs = summary["flightnb"], summary["pyarrow.flight"]

    def fmt(side: dict[str, Any]) -> str:
        rtts = side["first_batch_rtts"]
        first = f"{rtts:.1f} RTT" if rtts is not None else f"{side['first_batch_s'] * 1000:.0f} ms"
        return (
            f"{side['median_s']:.2f} s [{side['min_s']:.2f}-{side['max_s']:.2f}], first batch "
            f"{first}, {side['connections']:.0f} conn, {side['requests']:.0f} calls"
            f"{_call_times(side)}, "
            f"peak {side['peak_mib']:.0f} MiB, CPU {side['cpu_s']:.2f} s (proxy "
            f"{side['proxy_cpu_s']:.2f} s, servers {side['servers_cpu_s']:.2f} s)"
        )

    spread = " / ".join(f"{value:.2f}" for value in summary["ratio_per_round"])
    print(
        f"{summary['case']:<28} rtt {summary['rtt_ms']:>4.0f} ms | pyarrow {fmt(theirs)} | "
        f"flightnb {fmt(ours)} | pyarrow/flightnb {summary['ratio']:.2f}x ({spread}) "
        f"equal={summary['equal_results']} | load {summary['load'][0]} .. {summary['load'][-1]}",
        flush=True,
    )


def _call_times(side: dict[str, Any]) -> str:
    """When the calls reached the proxy (median ms after the connection), where plaintext."""
    runs = side["call_ms"]
    if not runs or not runs[0] or any(len(run) != len(runs[0]) for run in runs):
        return ""
    medians = [statistics.median(run[k] for run in runs) for k in range(len(runs[0]))]
    return " at " + "/".join(f"{value:.0f}" for value in medians) + " ms"


def _proxy_args(rtt: float, args: argparse.Namespace) -> list[str]:
    return ["proxy", "--rtt-ms", str(rtt * 1000), "--rate-mbit", str(args.rate_mbit)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode")
    p_serve = sub.add_parser("serve")
    p_serve.add_argument("--rows", type=int, required=True)
    p_serve.add_argument("--cert")
    p_serve.add_argument("--key")
    p_proxy = sub.add_parser("proxy")
    p_proxy.add_argument("--rtt-ms", type=float, required=True)
    p_proxy.add_argument("--rate-mbit", type=float, required=True)
    p_proxy.add_argument("upstreams", nargs="+")
    p_loop = sub.add_parser("loopback", help="whole-table reads on loopback, per window")
    p_loop.add_argument("--windows", default="4,16", help="stream windows in MiB")
    p_loop.add_argument("--rounds", type=int, default=7)
    p_held = sub.add_parser("held", help="what a stalled stream lets a server send")
    p_held.add_argument("--windows", default="4,16,64", help="stream windows in MiB")
    p_held.add_argument("--buffer-mib", type=int, default=4)
    p_held.add_argument("--batches", type=int, default=512, help="1 MiB batches in the stream")
    p_held.add_argument("--settle", type=float, default=1.0, help="s without progress")
    p_child = sub.add_parser("child")
    p_child.add_argument("client", choices=["pyarrow", "flightnb"])
    p_child.add_argument("uri")
    p_child.add_argument("command")
    p_child.add_argument("--roots")
    p_child.add_argument("--grpc-option", action="append", default=[])
    p_child.add_argument("--unaligned", action="store_true")
    parser.add_argument("--rtts", help="round trips in ms (default 0,20,50,100)")
    parser.add_argument(
        "--first-batch",
        action="store_true",
        help="only the time to the first batch, plain and TLS (default round trips 0,50,100)",
    )
    parser.add_argument("--rate-mbit", type=float, default=800.0)
    parser.add_argument("--mib", type=float, default=122.0, help="size of the flight")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--what", default="single,eight,first", help="single, eight, first")
    parser.add_argument("--tls", action="store_true", help="time to first batch over TLS too")
    parser.add_argument("--grpc-option", action="append", default=[], help="for flightnb")
    parser.add_argument(
        "--unaligned",
        action="store_true",
        help="flightnb with align_buffers=False (no copy; buffers unaligned, as pyarrow's)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "serve":
        return serve(args)
    if args.mode == "proxy":
        asyncio.run(_proxy(args.upstreams, args.rtt_ms / 1000, args.rate_mbit * 1e6 / 8))
        return 0
    if args.mode == "child":
        return child(args)
    if args.mode == "loopback":
        return loopback(args)
    if args.mode == "held":
        return held(args)

    if args.first_batch:
        args.what, args.tls = "first", True
    if args.rtts is None:
        args.rtts = "0,50,100" if args.first_batch else "0,20,50,100"
    rows = int(args.mib * MIB) // (8 * COLUMNS)
    rows -= rows % 8
    rtts = [float(value) / 1000 for value in args.rtts.split(",")]
    what = set(args.what.split(","))
    results: list[dict[str, Any]] = []
    print(f"{args.mib:.0f} MiB, {args.rate_mbit:.0f} Mbit/s, {args.rounds} rounds", flush=True)
    args.roots = None
    served = FIRST_BATCH_ROWS if what == {"first"} else rows
    with helpers(*[["serve", "--rows", str(served)]] * 4) as servers:
        upstreams = [f"127.0.0.1:{server.ready['port']}" for server in servers]
        for rtt in rtts:
            with helpers([*_proxy_args(rtt, args), *upstreams]) as (proxy,):
                ports = proxy.ready["ports"]
                uris = [f"grpc://127.0.0.1:{port}" for port in ports]
                cases = []
                if "first" in what:
                    small = json.dumps({"peers": [], "rows": FIRST_BATCH_ROWS})
                    cases.append(("first batch, plain", uris[0], small))
                if "single" in what:
                    whole = json.dumps({"peers": [], "rows": rows})
                    cases.append(("single endpoint", uris[0], whole))
                if "eight" in what:
                    plan = json.dumps({"peers": uris, "rows": rows})
                    cases.append(("8 endpoints on 4 servers", uris[0], plan))
                for label, uri, command in cases:
                    summary = measure(label, uri, command, proxy, rtt, args, servers)
                    _print(summary)
                    results.append(summary)
    if args.tls:
        with tempfile.TemporaryDirectory() as directory:
            cert, key = _certificates(Path(directory))
            args.roots = str(cert)
            rows_arg = ["--rows", str(FIRST_BATCH_ROWS)]
            tls_server = ["serve", *rows_arg, "--cert", str(cert), "--key", str(key)]
            with helpers(tls_server) as (server,):
                upstream = f"127.0.0.1:{server.ready['port']}"
                for rtt in rtts:
                    with helpers([*_proxy_args(rtt, args), upstream]) as (proxy,):
                        uri = f"grpc+tls://127.0.0.1:{proxy.ready['ports'][0]}"
                        small = json.dumps({"peers": [], "rows": FIRST_BATCH_ROWS})
                        summary = measure(
                            "first batch, TLS", uri, small, proxy, rtt, args, [server]
                        )
                        _print(summary)
                        results.append(summary)
    if args.json:
        args.json.write_text(json.dumps({"results": results}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
