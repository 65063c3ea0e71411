"""``python -m flightnb doctor URI``: probe a Flight server and print one table.

Credentials come from environment variables (``--token-env``, ``--password-env``,
``--header-env``) or a prompt, never from the command line, where other users of the
machine and the shell's history would see them.

Exit status: 0 when the server answered (whatever it lacks), 2 for a bad argument,
3 when the server cannot be reached, 4 when it refused the credentials (or wants some).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flightnb.doctor.model import Failure
from flightnb.doctor.probes import DEFAULT_PROBE_SECONDS, diagnose
from flightnb.doctor.report import render_text
from flightnb.errors import FlightError
from flightnb.transport.secret_headers import looks_like_credential

__all__ = ["EXIT_AUTH", "EXIT_UNREACHABLE", "EXIT_USAGE", "build_parser", "doctor_main"]

EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_AUTH = 4


class _UsageError(Exception):
    """A bad argument: one line on stderr, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m flightnb doctor``."""
    parser = argparse.ArgumentParser(
        prog="python -m flightnb doctor",
        description="Probe a Flight server: what it speaks, the auth that works, which "
        "optional RPCs and Flight SQL features it has, and what flightnb does about "
        "each gap. The probes only read, and each is bounded by --timeout.",
    )
    parser.add_argument("uri", metavar="URI", help="grpc://host:port, grpc+tls://..., ...")
    parser.add_argument("--token-env", metavar="VAR", help="bearer token from this env variable")
    parser.add_argument("--user", metavar="NAME", help="basic-auth handshake as this user")
    parser.add_argument(
        "--password-env", metavar="VAR", help="the password from this env variable (else a prompt)"
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="K=V",
        help="extra header for every call (no credentials: use --header-env)",
    )
    parser.add_argument(
        "--header-env",
        action="append",
        default=[],
        metavar="K=VAR",
        help="extra header whose value comes from the env variable VAR",
    )
    parser.add_argument("--tls-roots", metavar="FILE", help="PEM root certificates to trust")
    parser.add_argument(
        "--insecure-skip-verify", action="store_true", help="accept any certificate (testing only)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_PROBE_SECONDS,
        metavar="SECONDS",
        help=f"bound on each probe (default: {DEFAULT_PROBE_SECONDS:g})",
    )
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    return parser


def _env(variable: str, option: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise _UsageError(f"{option}: environment variable {variable} is not set")
    return value


def _pairs(values: list[str], option: str, form: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip():
            # The value is not echoed: it may be a credential.
            raise _UsageError(f"{option} wants {form}; one {option} had no '=' after a name")
        pairs[name.strip().lower()] = rest
    return pairs


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of :func:`~flightnb.doctor.diagnose` from the parsed arguments."""
    options: dict[str, Any] = {"timeout": args.timeout}
    if args.timeout <= 0:
        raise _UsageError("--timeout must be positive")
    if args.token_env:
        options["token"] = _env(args.token_env, "--token-env")
    if args.user:
        options["username"] = args.user
        if args.password_env:
            options["password"] = _env(args.password_env, "--password-env")
        elif sys.stdin.isatty():
            options["password"] = getpass.getpass(f"Password for {args.user}: ")
        else:
            raise _UsageError("--user needs --password-env VAR when there is no terminal to ask")
    headers = _pairs(args.header, "--header", "NAME=VALUE")
    for name, value in headers.items():
        if looks_like_credential(name, value):
            raise _UsageError(
                f"--header {name!r} looks like a credential; pass it with --header-env "
                f"{name}=VAR so it stays off the command line"
            )
    for name, variable in _pairs(args.header_env, "--header-env", "NAME=VAR").items():
        headers[name] = _env(variable, "--header-env")
    if headers:
        options["headers"] = headers
    if args.tls_roots:
        try:
            options["tls_root_certs"] = Path(args.tls_roots).expanduser().read_bytes()
        except OSError as exc:
            raise _UsageError(
                f"--tls-roots: cannot read {args.tls_roots}: {exc.strerror}"
            ) from None
    if args.insecure_skip_verify:
        options["disable_server_verification"] = True
    return options


def doctor_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m flightnb doctor``; returns the exit status."""
    args = build_parser().parse_args(argv)
    prog = "flightnb doctor"
    try:
        diagnosis = diagnose(args.uri, **client_options(args))
    except _UsageError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except FlightError as exc:  # a location that is not one
        print(f"{prog}: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(diagnosis.to_dict(), indent=2))
    elif diagnosis.answered:
        print(render_text(diagnosis))
    if diagnosis.failure is None:
        return 0
    print(f"{prog}: {diagnosis.reason}", file=sys.stderr)
    return EXIT_AUTH if diagnosis.failure is Failure.AUTH else EXIT_UNREACHABLE


if __name__ == "__main__":
    sys.exit(doctor_main())
