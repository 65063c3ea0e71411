"""Command line: ``python -m flightnb demo | serve | doctor`` (also the ``flightnb`` script)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        # The server needs the "server" extra (DuckDB); import it only when asked for.
        from flightnb.server.cli import serve_main

        return serve_main(argv[1:]) or 0
    if argv[:1] == ["doctor"]:
        from flightnb.doctor.cli import doctor_main

        return doctor_main(argv[1:])
    parser = argparse.ArgumentParser(prog="flightnb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="serve sample data locally and read it back")
    demo.add_argument("--rows", type=int, default=1_000_000, help="sample trips to generate")
    commands.add_parser("serve", help="serve a DuckDB database over Flight SQL (--help)")
    commands.add_parser("doctor", help="probe a Flight server: what it speaks (--help)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from flightnb.demo import run_demo

        run_demo(rows=args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
