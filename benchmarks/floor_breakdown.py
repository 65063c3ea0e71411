"""Where flightnb's DoGet time over the grpc.aio floor goes: a quick breakdown.

Usage::

    .venv/bin/python benchmarks/floor_breakdown.py               # timings, --rounds 15
    .venv/bin/python benchmarks/floor_breakdown.py --profile 10  # cProfile of 10 reads
    .venv/bin/python benchmarks/floor_breakdown.py --offsets     # where bodies land in bytes

The timing mode reads each dataset from the benchmark server (``bench_server.py``, in its own
process) with four contenders, in rotating order, ``gc.collect()`` before each read, results
dropped at once (the warm case of ``run.py``):

* ``floor``: bare grpc.aio DoGet, messages received and dropped (``bench_floor.py``);
* ``floor + copy``: the same, plus one ``bytes`` copy of each message, dropped;
* ``decode only``: flightnb's sans-IO codec over messages recorded beforehand, no network:
  ``FlightDataDecoder.receive`` for each, then ``pa.Table.from_batches``;
* ``flightnb``: ``FlightClient.do_get(ticket).read_all()``;
* ``flightnb in place``: the same with ``align_buffers=False`` (no copy of the bodies).

Both the floor and flightnb run on flightnb's loop thread (see ``bench_floor.py``); the
codec runs on the calling thread. If ``flightnb ~ floor + decode only``, the time over the
floor is the codec's, and the client adds nothing of note.

The offsets mode reads each dataset once with a bare blocking gRPC DoGet and prints where
each message's body starts inside the ``bytes`` object grpcio hands over: its offset, and
its address modulo 8 and 64. Buffers can only be used in place, aligned, when those are 0.

The profile mode runs ``AsyncFlightClient`` reads under cProfile on an event loop in the main
thread (the only grpc.aio loop of that process, so the profile sees the loop's work) and
prints the functions with the most time of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from bench_floor import GrpcFloor
from run import DATASETS, READ_TIMEOUT_SECONDS, running_server

import flightnb
from flightnb.client.loop_thread import shared_loop_thread
from flightnb.codec import read_table

MAX_ROUNDS = 100
SERVER_SECONDS = 900.0


def decode(messages: list[bytes]) -> pa.Table:
    """What flightnb's reader does with the messages, without the network."""
    return read_table(messages)


def time_dataset(
    floor: GrpcFloor,
    client: flightnb.FlightClient,
    in_place: flightnb.FlightClient,
    dataset: str,
    rounds: int,
) -> None:
    ticket = dataset.encode()
    recorded = floor.receive_kept(ticket)
    reads: dict[str, Callable[[], Any]] = {
        "floor": lambda: floor.receive(ticket),
        "floor + copy": lambda: floor.receive_copied(ticket),
        "decode only": lambda: decode(recorded),
        "flightnb": lambda: client.do_get(ticket).read_all(),
        "flightnb in place": lambda: in_place.do_get(ticket).read_all(),
    }
    expected = decode(recorded)
    if not expected.equals(client.do_get(ticket).read_all()):
        raise AssertionError(f"{dataset}: the codec and the client disagree")
    if not expected.equals(in_place.do_get(ticket).read_all()):
        raise AssertionError(f"{dataset}: the in-place client disagrees")
    del expected
    for read in reads.values():  # untimed, once each
        read()
    times: dict[str, list[float]] = {name: [] for name in reads}
    names = list(reads)
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            started = time.perf_counter()
            result = reads[name]()
            times[name].append(time.perf_counter() - started)
            del result
    floor_median = statistics.median(times["floor"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{dataset:8} {name:17} {median * 1000:6.1f} ms {min(samples) * 1000:6.1f} ms "
            f"{max(samples) * 1000:6.1f} ms  {median / floor_median:5.2f}x"
        )
    over = statistics.median(times["flightnb"]) - floor_median
    print(
        f"{dataset:8} flightnb - floor = {over * 1000:.1f} ms; decode only = "
        f"{statistics.median(times['decode only']) * 1000:.1f} ms"
    )


def time_contenders(uri: str, rounds: int) -> None:
    client = flightnb.FlightClient(uri, timeout=READ_TIMEOUT_SECONDS)
    in_place = flightnb.FlightClient(uri, timeout=READ_TIMEOUT_SECONDS, align_buffers=False)
    floor = GrpcFloor(uri.removeprefix("grpc://"), READ_TIMEOUT_SECONDS, shared_loop_thread().loop)
    try:
        print(f"{'dataset':8} {'contender':17} {'median':>9} {'min':>9} {'max':>9}  vs floor")
        for dataset in DATASETS:
            time_dataset(floor, client, in_place, dataset, rounds)
    finally:
        floor.close()
        in_place.close()
        client.close()


def profile_reads(uri: str, reads: int, top: int) -> None:
    async def run(profiler: cProfile.Profile) -> None:
        async with flightnb.AsyncFlightClient(uri, timeout=READ_TIMEOUT_SECONDS) as client:
            for dataset in DATASETS:  # untimed: connection and allocator warm-up
                await client.do_get(dataset.encode()).read_all()
            for dataset in DATASETS:
                ticket = dataset.encode()
                profiler.enable()
                started = time.perf_counter()
                for _ in range(reads):
                    await client.do_get(ticket).read_all()
                elapsed = time.perf_counter() - started
                profiler.disable()
                print(f"{dataset}: {reads} reads, {elapsed / reads * 1000:.1f} ms each (profiled)")

    profiler = cProfile.Profile()
    asyncio.run(run(profiler))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(out.getvalue())


def body_offsets(uri: str) -> None:
    import ctypes
    from collections import Counter

    import grpc

    from flightnb._proto import Flight_pb2
    from flightnb.codec.wire import parse_flight_data

    target = uri.removeprefix("grpc://")
    options = [("grpc.max_receive_message_length", -1)]
    with grpc.insecure_channel(target, options=options) as channel:
        do_get = channel.unary_stream("/arrow.flight.protocol.FlightService/DoGet")
        for dataset in DATASETS:
            seen: Counter[tuple[int, int, int, int]] = Counter()
            request = Flight_pb2.Ticket(ticket=dataset.encode()).SerializeToString()
            for message in do_get(request, timeout=READ_TIMEOUT_SECONDS):
                body = parse_flight_data(message).data_body
                if not len(body):
                    continue
                offset = len(message) - len(body)
                address = ctypes.cast(ctypes.c_char_p(message), ctypes.c_void_p).value or 0
                header = len(parse_flight_data(message).data_header)
                seen[(offset, header, (address + offset) % 8, (address + offset) % 64)] += 1
            for (offset, header, mod8, mod64), count in sorted(seen.items()):
                print(
                    f"{dataset:8} {count:3} bodies at offset {offset} (header {header} bytes): "
                    f"address mod 8 = {mod8}, mod 64 = {mod64}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (15)")
    parser.add_argument("--profile", type=int, metavar="READS", help="cProfile READS reads")
    parser.add_argument("--top", type=int, default=25, help="profile lines to print (25)")
    parser.add_argument("--quick", action="store_true", help="the small datasets")
    parser.add_argument("--offsets", action="store_true", help="where bodies land in bytes")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= MAX_ROUNDS or not 1 <= (args.profile or 1) <= MAX_ROUNDS:
        parser.error(f"--rounds and --profile must be between 1 and {MAX_ROUNDS}")
    with running_server("quick" if args.quick else "full", SERVER_SECONDS) as server:
        if args.offsets:
            body_offsets(server.uri)
        elif args.profile:
            profile_reads(server.uri, args.profile, args.top)
        else:
            time_contenders(server.uri, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
