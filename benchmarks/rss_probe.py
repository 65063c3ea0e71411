"""Where a kept read's memory beyond its result goes: one DoGet in a fresh process, sampled.

Usage::

    .venv/bin/python benchmarks/rss_probe.py --dataset mixed --probes 3
    .venv/bin/python benchmarks/rss_probe.py --pool jemalloc       # bodies apart from glibc
    .venv/bin/python benchmarks/rss_probe.py --window 1048576      # the stream window
    .venv/bin/python benchmarks/rss_probe.py \
        --grpc-option grpc.experimental.tcp_max_read_chunk_size=1048576

Starts the benchmark server (``bench_server.py``), then runs each probe in a new process
(``--child``): ``FlightClient.do_get(dataset).read_all()`` with a thread sampling, every
millisecond, glibc's ``mallinfo2()`` (bytes in use and free inside malloc's arenas) and the
receive pool's bytes. Prints one line per probe: the peak RSS above the baseline over the
result's size (as ``run.py`` reports it), and the peaks of glibc's memory other than the
received bodies (only apart from them with ``--pool jemalloc``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench_rss import malloc_figures, status_kib

HERE = Path(__file__).resolve().parent
MIB = 1 << 20
SAMPLE_SECONDS = 0.001


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One probe, in this (fresh) process."""
    import pyarrow as pa

    import flightnb.codec.decoder as decoder
    import flightnb.transport.channels as channels

    if args.pool == "jemalloc":
        decoder.default_receive_pool = pa.jemalloc_memory_pool
    if args.window:
        channels.STREAM_WINDOW_BYTES = args.window
    extra = [_option(text) for text in args.grpc_option]
    if extra:
        built = channels._grpc_options
        channels._grpc_options = lambda config, host: built(config, host) + extra  # type: ignore[assignment]
    from flightnb import FlightClient

    pool = decoder.default_receive_pool()
    client = FlightClient(args.uri, timeout=120)
    start_in_use = malloc_figures()["malloc_in_use"]
    baseline_kib = status_kib("VmRSS")
    peaks = {"glibc_in_use": 0, "glibc_free": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            figures = malloc_figures()
            in_use = figures["malloc_in_use"] - start_in_use
            if args.pool == "system":
                in_use -= pool.bytes_allocated()  # the bodies are glibc's here
            peaks["glibc_in_use"] = max(peaks["glibc_in_use"], in_use)
            peaks["glibc_free"] = max(peaks["glibc_free"], figures["malloc_free"])
            time.sleep(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    table = client.do_get(args.dataset.encode()).read_all()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak = (status_kib("VmHWM") - baseline_kib) * 1024
    client.close()
    return {
        "factor": peak / table.nbytes,
        "seconds": seconds,
        "glibc_in_use_peak_mib": peaks["glibc_in_use"] / MIB,
        "glibc_free_peak_mib": peaks["glibc_free"] / MIB,
    }


def _option(text: str) -> tuple[str, int | str]:
    key, _, value = text.partition("=")
    return key, int(value) if value.lstrip("-").isdigit() else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=("int64", "mixed"), default="int64")
    parser.add_argument("--probes", type=int, default=3, help="fresh processes (3, at most 20)")
    parser.add_argument("--pool", choices=("system", "jemalloc"), default="system")
    parser.add_argument("--window", type=int, default=0, help="stream window in bytes")
    parser.add_argument("--grpc-option", action="append", default=[], metavar="K=V")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--uri", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)), flush=True)
        return 0
    if not 1 <= args.probes <= 20:
        parser.error("--probes must be between 1 and 20")
    sys.path.insert(0, str(HERE))
    from run import running_server

    with running_server("full", 600) as server:
        for _ in range(args.probes):
            command = [sys.executable, __file__, "--child", "--uri", server.uri]
            command += [
                "--dataset",
                args.dataset,
                "--pool",
                args.pool,
                "--window",
                str(args.window),
            ]
            for option in args.grpc_option:
                command += ["--grpc-option", option]
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
            probe = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"{args.dataset} pool={args.pool} window={args.window or 'default'} "
                f"options={args.grpc_option or '-'}: peak {probe['factor']:.2f}x the result, "
                f"{probe['seconds']:.3f} s; glibc besides the bodies: "
                f"{probe['glibc_in_use_peak_mib']:.1f} MiB in use, "
                f"{probe['glibc_free_peak_mib']:.1f} MiB free at most",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
