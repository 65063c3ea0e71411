"""Peak memory of one DoGet read, measured in a fresh process.

The kernel's high-water mark (VmHWM) cannot be reset, so the baseline is taken in this new
process after the imports and after the client exists, right before the read; the read's
cost is the high-water mark after it minus the resident size at that baseline. Prints one
JSON line, with glibc's ``mallinfo2()`` after the read where it exists: ``malloc_in_use``
and ``malloc_free`` (bytes free inside malloc's arenas, held but unused).
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import resource
import sys
from typing import Any


def status_kib(field: str) -> int:
    """A ``kB`` field of /proc/self/status (Linux); the other memory benchmarks use it too."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} is not in /proc/self/status")


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


@functools.cache
def _mallinfo2() -> Any:
    try:
        function = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    return function


def malloc_figures() -> dict[str, int]:
    """Bytes in use and free inside glibc's arenas (empty where glibc has no mallinfo2)."""
    mallinfo2 = _mallinfo2()
    if mallinfo2 is None:
        return {}
    info = mallinfo2()
    return {"malloc_in_use": info.uordblks + info.hblkhd, "malloc_free": info.fordblks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", choices=("ours", "peer"), required=True)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--ticket", required=True)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)

    if args.client == "peer":
        import pyarrow.flight as paflight

        client = paflight.connect(args.uri)
        options = paflight.FlightCallOptions(timeout=args.timeout)

        def read(ticket: bytes) -> object:
            return client.do_get(paflight.Ticket(ticket), options).read_all()
    else:
        from flightnb import FlightClient

        client = FlightClient(args.uri, timeout=args.timeout)

        def read(ticket: bytes) -> object:
            return client.do_get(ticket).read_all()

    baseline_kib = status_kib("VmRSS")
    hwm_before_kib = status_kib("VmHWM")
    table = read(args.ticket.encode())
    hwm_after_kib = status_kib("VmHWM")
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    result = {
        "client": args.client,
        "baseline_rss": baseline_kib * 1024,
        "hwm_before": hwm_before_kib * 1024,
        "hwm_after": hwm_after_kib * 1024,
        "ru_maxrss": maxrss_kib * 1024,
        "peak_above_baseline": (hwm_after_kib - baseline_kib) * 1024,
        "nbytes": table.nbytes,  # type: ignore[attr-defined]
        "rows": table.num_rows,  # type: ignore[attr-defined]
        **malloc_figures(),
    }
    print(json.dumps(result), flush=True)
    client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
