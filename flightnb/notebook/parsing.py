"""Parsing ``%flight`` lines: one argparse parser per subcommand, help, SQL taken verbatim.

Every parse error is IPython's ``UsageError`` with one ``%flight <subcommand>:`` prefix, so the
notebook shows one line. SQL is never split like a shell line: the options come first and the
rest of the line is the query, exactly as typed.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Mapping
from typing import Any, NoReturn

from IPython.core.error import UsageError

from flightnb.convert import TARGETS

__all__ = [
    "SUBCOMMANDS",
    "build_parser",
    "expand_variables",
    "help_text",
    "option_words",
    "parse",
    "split_assignment",
]

# Subcommands and what they do, in the order help lists them.
SUBCOMMANDS: dict[str, str] = {
    "connect": "connect to a Flight service (and make it the active connection)",
    "use": "make a named connection the active one",
    "connections": "list the connections: alias, URI, auth kind, active one marked",
    "get": "read a flight (path, --ticket or --cmd) into arrow, pandas or polars",
    "sql": "run a Flight SQL query (line form: the rest of the line; cell form: the body)",
    "tables": "Flight SQL tables, optionally filtered by a LIKE pattern",
    "catalogs": "Flight SQL catalogs",
    "list": "the server's flights",
    "info": "a flight's FlightInfo: size, endpoints and schema",
    "schema": "a flight's schema",
    "actions": "the server's actions",
    "action": "run an action (cell form: the body is the action body)",
    "doctor": "probe a server (default: the active connection): what it speaks, what flightnb does",
    "help": "this help, or one subcommand's (%flight help get)",
}


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one-line UsageErrors (its prog is the prefix)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message.strip() if message else f"{self.prog}: see %flight help")


def _conn_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--conn", metavar="NAME", help="use this named connection instead of the active one"
    )


def _output_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("-o", "--output", metavar="NAME", help=f"store {what} in the variable NAME")


def _sink_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--sink",
        metavar="FILE",
        help="stream into FILE instead (.parquet, .arrow/.feather, .arrows)",
    )


def _read_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--to",
        choices=TARGETS,
        metavar="|".join(TARGETS),
        help="what to return (default FlightMagic.to)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress",
        dest="progress",
        action="store_true",
        default=None,
        help="always show the progress display",
    )
    progress.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="never show it (default: when the read lasts over 0.5 s)",
    )
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="bound on the whole read")
    _output_option(parser, "the result")
    _conn_option(parser)


def _login_options(parser: argparse.ArgumentParser) -> None:
    """How to reach and log in to a server: ``connect`` and ``doctor`` take the same."""
    parser.add_argument("--token-env", metavar="VAR", help="bearer token from this env variable")
    parser.add_argument("--ask-token", action="store_true", help="prompt for the token (hidden)")
    parser.add_argument("--user", metavar="NAME", help="basic-auth handshake as this user")
    parser.add_argument(
        "--password-env", metavar="VAR", help="the password from this env variable (else a prompt)"
    )
    parser.add_argument(
        "--header", action="append", default=[], metavar="K=V", help="extra header (no secrets)"
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
    # Never accepted: caught to say where credentials go instead (see connections.py).
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--password", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    """The ``%flight`` parser, one subparser per subcommand."""
    parser = _Parser(prog="%flight", add_help=False, allow_abbrev=False)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    def sub(name: str) -> argparse.ArgumentParser:
        # No abbreviations: "--tok" must not quietly mean one of two options.
        return commands.add_parser(
            name, add_help=False, allow_abbrev=False, description=SUBCOMMANDS[name]
        )

    connect = sub("connect")
    connect.add_argument("uri", metavar="URI|NAME", help="a location, or a name from the file")
    connect.add_argument(
        "--alias", metavar="NAME", help="name this connection (default: 'default')"
    )
    _login_options(connect)
    connect.add_argument("--no-check", action="store_true", help="do not contact the server now")

    use = sub("use")
    use.add_argument("alias", metavar="NAME")
    sub("connections")

    get = sub("get")
    get.add_argument("path", nargs="*", metavar="PATH", help="path components of the flight")
    get.add_argument("--ticket", metavar="TICKET", help="read this one ticket (a single DoGet)")
    get.add_argument("--cmd", metavar="COMMAND", help="read a command descriptor")
    get.add_argument(
        "--bg", action="store_true", help="read in the background; returns a handle at once"
    )
    _sink_option(get)
    _read_options(get)

    sql = sub("sql")
    sql.add_argument(
        "--file", metavar="FILE", help="read the query from this file (cell form: body empty)"
    )
    _sink_option(sql)
    _read_options(sql)
    # The query is never parsed by argparse: see split_sql().

    tables = sub("tables")
    tables.add_argument("pattern", nargs="?", default=None, metavar="PATTERN", help="LIKE pattern")
    tables.add_argument("--catalog", metavar="C", help="only this catalog")
    tables.add_argument("--schema", dest="db_schema", metavar="S", help="schemas LIKE S")
    _output_option(tables, "the table of tables")
    _conn_option(tables)

    catalogs = sub("catalogs")
    _output_option(catalogs, "the table of catalogs")
    _conn_option(catalogs)

    listing = sub("list")
    listing.add_argument("criteria", nargs="?", default="", metavar="CRITERIA")
    _output_option(listing, "the list of FlightInfo")
    _conn_option(listing)

    for name, what in (("info", "the FlightInfo"), ("schema", "the pyarrow.Schema")):
        described = sub(name)
        described.add_argument("path", nargs="*", metavar="PATH")
        described.add_argument("--cmd", metavar="COMMAND", help="a command descriptor")
        _output_option(described, what)
        _conn_option(described)

    actions = sub("actions")
    _output_option(actions, "the list of ActionType")
    _conn_option(actions)

    action = sub("action")
    action.add_argument("type", metavar="TYPE")
    action.add_argument("body", nargs="?", default=None, metavar="BODY")
    _output_option(action, "the list of Result")
    _conn_option(action)

    doctor = sub("doctor")
    doctor.add_argument(
        "uri", nargs="?", default=None, metavar="URI|NAME", help="a location or a named connection"
    )
    _login_options(doctor)
    doctor.add_argument("--timeout", type=float, metavar="SECONDS", help="bound on each probe")
    _output_option(doctor, "the Diagnosis")
    _conn_option(doctor)

    helper = sub("help")
    helper.add_argument("topic", nargs="?", default=None, metavar="SUBCOMMAND")
    return parser


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommand parsers by name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the %flight parser has no subcommands")  # pragma: no cover


def option_words(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every visible option of ``parser``, and whether it takes a value."""
    options: dict[str, bool] = {}
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        for option in action.option_strings:
            options[option] = action.nargs != 0
    return options


def help_text(parser: argparse.ArgumentParser, topic: str | None = None) -> str:
    """``%flight help``: every subcommand with every option, from the parsers themselves."""
    commands = subparsers(parser)
    if topic is not None and topic not in commands:
        raise UsageError(f"%flight help: no subcommand {topic!r}; try %flight help")
    names = [topic] if topic else list(SUBCOMMANDS)
    blocks = []
    for name in names:
        sub = commands[name]
        usage = sub.format_usage().removeprefix("usage: ").strip()
        if name == "sql":
            usage += " [QUERY ...]"
        lines = [f"{usage}", f"    {SUBCOMMANDS[name]}"]
        for action in sub._actions:
            if action.help in (None, argparse.SUPPRESS):
                continue
            if action.option_strings:
                flag = ", ".join(action.option_strings)
                if action.nargs != 0:
                    flag += f" {action.metavar or action.dest.upper()}"
            else:
                flag = str(action.metavar or action.dest)
            lines.append(f"    {flag:<24} {action.help}")
        blocks.append("\n".join(lines))
    notes = (
        "NAME << get ...            jupysql's assignment form: the same as -o NAME\n"
        "%%flight get [options]     the cell body is the command (--cmd)\n"
        "%%flight sql [options]     the cell body is the query; :name binds the variable name\n"
        "%%flight action TYPE       the cell body is the action body\n"
        "Configuration: %config FlightMagic.to / .progress / .displaylimit / .timeout / "
        ".connections_file"
    )
    return "\n".join(blocks) + ("" if topic else "\n\n" + notes)


def split_assignment(line: str) -> tuple[str | None, str]:
    """``NAME << rest`` (jupysql style) -> ``("NAME", "rest")``."""
    name, sep, rest = line.partition("<<")
    if sep and name.strip().isidentifier():
        return name.strip(), rest.strip()
    return None, line


def expand_variables(line: str, namespace: Mapping[str, Any]) -> str:
    """``{name}`` and ``$name`` from the notebook, as IPython expands magic lines.

    Applied to every subcommand except ``sql`` (whose text is taken as typed). A line that
    does not expand (an unknown name, a literal brace) is left as it is, as IPython does.
    """
    from IPython.utils.text import DollarFormatter

    try:
        return str(DollarFormatter().vformat(line, args=[], kwargs=dict(namespace)))
    except Exception:
        return line


_WORD = re.compile(r"""\s*(?:'([^']*)'|"([^"]*)"|(\S+))""")


def split_sql(parser: argparse.ArgumentParser, line: str) -> tuple[list[str], str]:
    """``sql [options] QUERY`` -> (option words for argparse, the query exactly as typed).

    Options are read from the start of the line (which options take a value comes from the
    parser, so options added later work too); ``--`` ends them; the first word that is not
    an option starts the query, and everything from there on is kept verbatim: no shell
    quoting rules, no variable expansion (``-- don't`` and ``'$5'`` stay as written).
    """
    options = option_words(subparsers(parser)["sql"])
    rest = line.strip()[len("sql") :]
    words: list[str] = []
    while True:
        match = _WORD.match(rest)
        if match is None or not match.group(0).strip():
            return words, ""
        word = match.group(1) or match.group(2) or match.group(3) or ""
        quoted = match.group(3) is None
        if quoted or not word.startswith("-") or word == "-" or _is_number(word):
            return words, rest.strip()
        rest = rest[match.end() :]
        if word == "--":
            return words, rest.strip()
        name = word.split("=", 1)[0]
        if name not in options:
            raise UsageError(
                f"%flight sql: unknown option {name}; the query follows the options "
                "(or put -- before a query that starts with '-')"
            )
        words.append(word)
        if options[name] and "=" not in word:
            value = _WORD.match(rest)
            if value is None or not value.group(0).strip():
                return words, ""  # argparse reports the missing value
            words.append(value.group(1) or value.group(2) or value.group(3) or "")
            rest = rest[value.end() :]


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def parse(parser: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    """Parse one ``%flight`` line (after the assignment and variable expansion)."""
    first = line.split(None, 1)[0] if line.strip() else ""
    if first == "sql":
        words, query = split_sql(parser, line)
        args = _parse_words(parser, ["sql", *words])
        args.query = query
        return args
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"%flight {first}: {exc} (quote values with ' or \")") from None
    return _parse_words(parser, words)


def _parse_words(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    args, extra = parser.parse_known_args(words)
    if extra:
        # Reported by the subcommand (argparse would name only "%flight").
        raise UsageError(f"%flight {args.command}: unrecognized arguments: {' '.join(extra)}")
    return args
