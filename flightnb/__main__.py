"""Command line: ``python -m flightnb demo`` (also the ``flightnb`` console script)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flightnb", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="serve sample data locally and read it back")
    demo.add_argument("--rows", type=int, default=2_000_000, help="sample rows to serve")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from flightnb.demo import run_demo

        run_demo(rows=args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
