"""8 slow endpoints read by Ray Data, by Dask, and by ``flightnb.read_flight``, side by side.

Usage::

    .venv/bin/python benchmarks/ray_endpoints.py [--quick] [--rounds 5] [--json out.json]

The servers are those of ``streaming.py endpoints``: four ``pyarrow.flight`` processes, the
first planning a flight of 8 endpoints spread over all four (two each), every endpoint
sleeping ``--scan-delay`` seconds before each of its batches (a stand-in for a remote scan).
Contenders, in alternating rounds, each planning the flight again:

* ``flightnb.ray.read_flight(...).materialize()`` on a local Ray instance of 2 CPUs (so at
  most 2 read tasks at once), the blocks then fetched to the driver as one Table;
* ``flightnb.dask.read_flight(...).compute()`` on a ``LocalCluster`` of 2 worker processes of
  one thread each;
* ``flightnb.read_flight`` in this process: every endpoint at once on one event loop.

A cluster reader pays for its scheduling and for moving the rows to the driver, and here
reads only 2 endpoints at a time; the point of measuring is to show that price, not to win.
Ray and Dask start before the first round (their start-up is not timed) and are warmed up by
one untimed read each. The three results are checked equal (sorted by ``i``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from streaming import alternate, servers  # noqa: E402


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} CPUs"


def _start_ray(ray: Any, **options: Any) -> None:
    """``ray.init``, tried up to 5 times: Ray gives its node a fixed 30 s to come up."""
    for attempt in range(5):
        try:
            ray.init(**options)
            return
        except Exception:
            if attempt == 4:
                raise
            ray.shutdown()


def bench(args: argparse.Namespace) -> dict[str, Any]:
    # Read by Ray when imported: no usage statistics; its services on 127.0.0.1 only.
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    import ray.data
    from distributed import Client, LocalCluster

    import flightnb
    import flightnb.dask
    import flightnb.ray

    batches = 5 if args.quick else 25
    part = ["--batches", str(batches), "--delay", str(args.scan_delay), "--batch-rows", "16384"]
    temp_dir = tempfile.mkdtemp(prefix="fnbray-")
    _start_ray(
        ray,
        num_cpus=2,
        include_dashboard=False,
        object_store_memory=256 * 2**20,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        log_to_driver=False,
    )
    cluster = dask_client = None
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        dask_client = Client(cluster)
        load_before = _load()
        with servers(part, part, part) as others:
            peers = ",".join(["arrow-flight-reuse-connection://?", *others])
            with servers([*part, "--endpoints", "8", "--peers", peers]) as (planner,):

                def with_ray() -> pa.Table:
                    ds = flightnb.ray.read_flight(planner, path="bench").materialize()
                    return pa.concat_tables(ray.get(ds.to_arrow_refs()))

                def with_dask() -> pa.Table:
                    frame = flightnb.dask.read_flight(planner, path="bench").compute()
                    return pa.Table.from_pandas(frame, preserve_index=False)

                def eager() -> pa.Table:
                    return flightnb.read_flight(planner, path="bench", progress=False)

                contenders = {
                    "Ray Data, 2 CPUs": with_ray,
                    "Dask, 2 workers": with_dask,
                    "flightnb.read_flight": eager,
                }
                first = {name: fn() for name, fn in contenders.items()}  # warm-up, equality
                tables = [t.sort_by("i").combine_chunks() for t in first.values()]
                equal = all(t.equals(tables[-1]) for t in tables)
                times = alternate(contenders, args.rounds)
    finally:
        if dask_client is not None:
            dask_client.close()
        if cluster is not None:
            cluster.close()
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "measurement": f"8 endpoints on 4 servers, {batches} batches x {args.scan_delay} s each",
        "rows": tables[-1].num_rows,
        "rounds": args.rounds,
        "median_seconds": medians,
        "all_seconds": times,
        "equal_results": equal,
        "endpoint_scan_seconds": batches * args.scan_delay,
        "two_at_a_time_floor_seconds": 4 * batches * args.scan_delay,
        "all_at_once_floor_seconds": batches * args.scan_delay,
        "load_before": load_before,
        "load_after": _load(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scan-delay", type=float, default=0.02)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    result = bench(args)
    print(json.dumps(result, indent=2), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": [result]}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
