"""What progress displays cost: read one ~100 MB table with and without them.

A local ``pyarrow.flight`` server serves an int64/float64 table (~100 MB, 8192-row batches,
so about 800 messages: every message calls the observer). Each round reads it once per mode,
in alternating order, and the medians are compared with ``progress=False``:

* ``none``: ``progress=False``;
* ``text``: :class:`~flightnb.progress.TextProgress` forced (``delay=0``), tqdm to /dev/null;
* ``widget``: :class:`~flightnb.progress.WidgetProgress` forced, real ipywidgets objects, its
  display calls replaced (outside a kernel there is no frontend to send to).

Run: ``.venv/bin/python benchmarks/progress_overhead.py --rounds 9``. Timings are for the
docs, never assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.flight as paflight

from flightnb import read_flight
from flightnb.progress import TextProgress, WidgetProgress


class _Server(paflight.FlightServerBase):  # type: ignore[misc]
    def __init__(self, table: pa.Table) -> None:
        super().__init__("grpc://127.0.0.1:0")
        self._table = table

    def do_get(self, context: Any, ticket: paflight.Ticket) -> paflight.RecordBatchStream:
        return paflight.RecordBatchStream(self._table)


class _HeadlessWidgetProgress(WidgetProgress):
    """Builds and updates the real widgets; only the IPython display calls are skipped."""

    def _show(self, widget: Any) -> Any:
        return None

    def _update(self, handle: Any, summary_html: str) -> None:
        pass


def _table(megabytes: int, batch_rows: int) -> pa.Table:
    rows = megabytes * 2**20 // 16
    rng = np.random.default_rng(0)
    table = pa.table({"id": np.arange(rows, dtype=np.int64), "x": rng.random(rows)})
    return pa.Table.from_batches(table.to_batches(max_chunksize=batch_rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100)
    parser.add_argument("--batch-rows", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    table = _table(args.megabytes, args.batch_rows)
    server = _Server(table)
    threading.Thread(target=server.serve, daemon=True).start()
    location = f"grpc://127.0.0.1:{server.port}"
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    observers = {
        "none": lambda: False,
        "text": lambda: TextProgress(delay=0, file=sink),
        "widget": lambda: _HeadlessWidgetProgress(delay=0),
    }
    times: dict[str, list[float]] = {name: [] for name in observers}
    try:
        read_flight(location, ticket="warm-up", progress=False)
        for round_index in range(args.rounds):
            names = list(observers)
            if round_index % 2:
                names.reverse()
            for name in names:
                started = time.perf_counter()
                result = read_flight(location, ticket="t", progress=observers[name]())
                times[name].append(time.perf_counter() - started)
                assert result.num_rows == table.num_rows
    finally:
        server.shutdown()
        sink.close()

    per_call = _per_message_cost()
    base = statistics.median(times["none"])
    print(
        f"{table.nbytes / 2**20:.0f} MiB, {table.num_rows:,} rows, "
        f"{len(table.to_batches())} batches, {args.rounds} rounds (medians):"
    )
    for name, values in times.items():
        median = statistics.median(values)
        print(
            f"  {name:7s} {median * 1000:8.1f} ms  {table.nbytes / 2**20 / median:7.0f} MiB/s"
            f"  {(median / base - 1) * 100:+5.1f} %"
        )
    messages = len(table.to_batches()) + 1
    for name, seconds in per_call.items():
        if name.endswith("redraw"):
            print(f"  {name}: {seconds * 1e6:.0f} µs each (at most one per 0.15-0.2 s)")
        else:
            print(
                f"  {name}: {seconds * 1e9:.0f} ns per message between redraws "
                f"({seconds * messages / base * 100:.3f} % of the plain read)"
            )


def _per_message_cost(calls: int = 200_000) -> dict[str, float]:
    """The observer's cost per message when no redraw is due (the common case)."""
    from flightnb.client.observer import TransferStats

    costs = {}
    sink = open(os.devnull, "w")  # noqa: SIM115 - closed below
    for name, observer in (
        ("text", TextProgress(delay=3600, file=sink)),
        ("widget", _HeadlessWidgetProgress(delay=3600)),
    ):
        observer.started(info=None, parts=1, kind="read", cancel=None)
        stats = TransferStats()
        started = time.perf_counter()
        for _ in range(calls):
            observer.progressed(0, stats)
        costs[name] = (time.perf_counter() - started) / calls
        redraw = getattr(observer, "_refresh", None) or observer._render
        redraw()  # builds the bar or the widgets
        started = time.perf_counter()
        for _ in range(200):
            stats.rows += 1
            redraw()
        costs[f"{name} redraw"] = (time.perf_counter() - started) / 200
    sink.close()
    return costs


if __name__ == "__main__":
    main()
