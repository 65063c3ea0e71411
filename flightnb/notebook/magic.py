"""The ``%flight`` / ``%%flight`` IPython magic.

Load with ``%load_ext flightnb``; configure with ``%config FlightMagic.to = "polars"``.
Argument parsing uses argparse subcommands (one parser per subcommand, like ``git``), with
every parse error turned into IPython's ``UsageError`` so the notebook shows one line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shlex
from collections.abc import Callable
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display
from traitlets import Bool, Float, Int, Unicode, validate

from flightnb.client.loop_thread import shared_loop_thread
from flightnb.convert import TARGETS, preview
from flightnb.errors import FlightError
from flightnb.notebook import display as tables
from flightnb.notebook.background import BackgroundRead
from flightnb.notebook.connection import Connection
from flightnb.notebook.placeholders import MissingParameterError, bind_placeholders
from flightnb.read import read_flight, read_flight_async
from flightnb.sql.sync import FlightSqlClient
from flightnb.types import FlightDescriptor

__all__ = ["FlightMagic"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"%flight {self.prog.split()[-1]}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or "%flight: see %flight --help")


def _get_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="*", help="path components of the flight")
    parser.add_argument("--ticket", help="read this one ticket (a single DoGet)")
    parser.add_argument("--cmd", help="read a command descriptor")
    parser.add_argument("--to", choices=TARGETS, help="arrow, pandas or polars")
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    progress.add_argument("--progress", dest="progress", action="store_true")
    parser.add_argument("--bg", action="store_true", help="read in the background")
    parser.add_argument("--timeout", type=float, help="seconds the whole read may take")
    parser.add_argument("-o", "--output", help="store the result in this variable")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%flight", add_help=False)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    connect = commands.add_parser("connect", add_help=False)
    connect.add_argument("uri")
    connect.add_argument("--token-env", help="environment variable holding a bearer token")
    connect.add_argument("--ask-token", action="store_true", help="prompt for a token")
    connect.add_argument("--user", help="log in with this user (prompts for the password)")
    connect.add_argument("--password-env", help="environment variable holding the password")
    connect.add_argument("--header", action="append", default=[], metavar="K=V")
    connect.add_argument("--tls-roots", help="file with PEM root certificates")
    connect.add_argument("--insecure-skip-verify", action="store_true")
    _get_arguments(commands.add_parser("get", add_help=False))
    for name in ("info", "schema"):
        sub = commands.add_parser(name, add_help=False)
        sub.add_argument("path", nargs="*")
        sub.add_argument("--cmd")
        sub.add_argument("-o", "--output")
    listing = commands.add_parser("list", add_help=False)
    listing.add_argument("criteria", nargs="?", default="")
    listing.add_argument("-o", "--output")
    actions = commands.add_parser("actions", add_help=False)
    actions.add_argument("-o", "--output")
    action = commands.add_parser("action", add_help=False)
    action.add_argument("type")
    action.add_argument("body", nargs="?", default=None)
    action.add_argument("-o", "--output")
    sql = commands.add_parser("sql", add_help=False)
    sql.add_argument("query", nargs=argparse.REMAINDER, help="the SQL (line form)")
    sql.add_argument("--to", choices=TARGETS)
    progress = sql.add_mutually_exclusive_group()
    progress.add_argument("--no-progress", dest="progress", action="store_false", default=None)
    progress.add_argument("--progress", dest="progress", action="store_true")
    sql.add_argument("--timeout", type=float)
    sql.add_argument("-o", "--output")
    tables_parser = commands.add_parser("tables", add_help=False)
    tables_parser.add_argument("pattern", nargs="?", default=None)
    tables_parser.add_argument("--catalog")
    tables_parser.add_argument("--schema", dest="db_schema")
    tables_parser.add_argument("-o", "--output")
    catalogs = commands.add_parser("catalogs", add_help=False)
    catalogs.add_argument("-o", "--output")
    commands.add_parser("help", add_help=False)
    return parser


HELP = """\
%flight connect URI [--token-env NAME | --ask-token] [--user NAME [--password-env NAME]]
                    [--header K=V ...] [--tls-roots FILE] [--insecure-skip-verify]
x = %flight get PATH [PATH ...] [--to arrow|pandas|polars] [--no-progress] [--bg] [-o NAME]
x = %flight get --ticket TICKET ...      x = %flight get --cmd COMMAND ...
%flight list [CRITERIA]    %flight info PATH...    %flight schema PATH...
%flight actions            %flight action TYPE [BODY]
NAME << get ...            same as -o NAME
%%flight get [options]     the cell body is the command (--cmd)
%%flight action TYPE       the cell body is the action body
%%flight sql [-o NAME] [--to arrow|pandas|polars]    the cell body is a Flight SQL query;
x = %flight sql SELECT ...       :name placeholders bind notebook variables as parameters
%flight tables [PATTERN]   %flight catalogs
"""


@magics_class
class FlightMagic(Magics):
    """``%flight``: connect to a Flight service and read from it in a notebook."""

    to = Unicode("arrow", help="What reads return: arrow, pandas or polars.").tag(config=True)
    progress = Bool(
        None,
        allow_none=True,
        help="Progress display: None = automatic, True = always, False = never.",
    ).tag(config=True)
    displaylimit = Int(10, help="Rows shown when a result is stored with -o / <<.").tag(config=True)
    timeout = Float(None, allow_none=True, help="Default bound on a read, in seconds.").tag(
        config=True
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.connection: Connection | None = None
        self._parser = _build_parser()

    @validate("to")
    def _check_to(self, proposal: Any) -> str:
        if proposal["value"] not in TARGETS:
            raise UsageError(f"FlightMagic.to must be one of {', '.join(TARGETS)}")
        return str(proposal["value"])

    # --- dispatch ------------------------------------------------------------------------

    @line_cell_magic
    def flight(self, line: str, cell: str | None = None) -> Any:
        """Arrow Flight in the notebook; ``%flight help`` lists the subcommands."""
        target, line = _split_assignment(line)
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%flight: {exc}") from None
        if not words or words[0] in ("help", "--help", "-h"):
            print(HELP)
            return None
        handlers: dict[str, Callable[[argparse.Namespace, str | None], Any]] = {
            "connect": self._connect,
            "get": self._get,
            "list": self._list,
            "info": self._info,
            "schema": self._schema,
            "actions": self._actions,
            "action": self._action,
            "sql": self._sql,
            "tables": self._tables,
            "catalogs": self._catalogs,
        }
        if words[0] not in handlers:
            raise UsageError(f"%flight: unknown subcommand {words[0]!r}; try %flight help")
        if words[0] == "sql":
            # Options come first; everything after them is SQL, taken verbatim from the line.
            args = self._parser.parse_args(_sql_option_words(words))
            args.query = _sql_text(line, words)
        else:
            args = self._parser.parse_args(words)
        if target:
            args.output = target
        try:
            result = handlers[args.command](args, cell)
        except FlightError as exc:
            raise exc.with_traceback(None) from None
        return self._deliver(result, getattr(args, "output", None))

    def _deliver(self, result: Any, output: str | None) -> Any:
        if output is None:
            return result
        if not output.isidentifier():
            raise UsageError(f"%flight: -o needs a variable name, got {output!r}")
        self._namespace()[output] = result
        display(_preview(result, self.displaylimit, output))  # type: ignore[no-untyped-call]
        return None

    def _namespace(self) -> dict[str, Any]:
        """The notebook's variables."""
        if self.shell is None:
            raise UsageError("%flight needs an IPython shell")
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    def _require_connection(self) -> Connection:
        if self.connection is None:
            raise UsageError("%flight: no connection; run %flight connect URI first")
        return self.connection

    # --- subcommands ---------------------------------------------------------------------

    def _connect(self, args: argparse.Namespace, cell: str | None) -> Any:
        options: dict[str, Any] = {}
        if args.token_env:
            token = os.environ.get(args.token_env)
            if not token:
                raise UsageError(
                    f"%flight connect: environment variable {args.token_env} is not set"
                )
            options["token"] = token
        elif args.ask_token:
            options["token"] = getpass.getpass("Flight token: ")
        headers = {}
        for header in args.header:
            key, sep, value = header.partition("=")
            if not sep or not key:
                # Not echoed: header values are often credentials, and this line is saved
                # with the notebook's outputs.
                raise UsageError(
                    "%flight connect: --header wants NAME=VALUE (e.g. --header "
                    "'authorization=Bearer ...'); one --header had no '=' after a name"
                )
            headers[key] = value
        if headers:
            options["headers"] = headers
        if args.tls_roots:
            with open(args.tls_roots, "rb") as roots:
                options["tls_root_certs"] = roots.read()
        if args.insecure_skip_verify:
            options["disable_server_verification"] = True
        if self.connection is not None:
            self.connection.close()
        self.connection = Connection(args.uri, **options)
        if args.user:
            password = (
                os.environ.get(args.password_env)
                if args.password_env
                else getpass.getpass(f"Password for {args.user}: ")
            )
            if not password:
                raise UsageError("%flight connect: no password given")
            self.connection.client.handshake(args.user, password)
        print(f"connected to {args.uri}")
        return None

    def _request(self, args: argparse.Namespace, cell: str | None) -> dict[str, Any]:
        forms = [bool(args.path), args.ticket is not None, args.cmd is not None]
        if cell is not None and cell.strip() and not any(forms):
            return {"command": cell.strip()}
        if sum(forms) != 1:
            raise UsageError("%flight get: give a PATH, --ticket TICKET or --cmd COMMAND")
        if args.ticket is not None:
            return {"ticket": args.ticket}
        if args.cmd is not None:
            return {"command": args.cmd}
        return {"path": list(args.path)}

    def _get(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._require_connection()
        request = self._request(args, cell)
        to = args.to or self.to
        progress = self.progress if args.progress is None else args.progress
        timeout = args.timeout if args.timeout is not None else self.timeout
        if args.bg:
            return self._background(connection, request, to, progress, timeout)
        return read_flight(connection.client, to=to, progress=progress, timeout=timeout, **request)

    def _background(
        self,
        connection: Connection,
        request: dict[str, Any],
        to: str,
        progress: bool | None,
        timeout: float | None,
    ) -> BackgroundRead:
        description = f"read of {_describe(request)}"

        async def run() -> Any:
            return await read_flight_async(
                connection.async_client(), to=to, progress=progress, timeout=timeout, **request
            )

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            return BackgroundRead(loop.create_task(run()), description)
        # No running loop (a terminal IPython): flightnb's own loop thread does the work.
        future = asyncio.run_coroutine_threadsafe(
            read_flight_async(
                connection.client, to=to, progress=progress, timeout=timeout, **request
            ),
            shared_loop_thread().loop,
        )
        return BackgroundRead(future, description)

    def _sql(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._require_connection()
        query = (cell if cell is not None and cell.strip() else args.query).strip()
        if not query:
            raise UsageError("%flight sql: no query; write it after sql or in the cell body")
        try:
            query, values = bind_placeholders(query, self._namespace())
        except MissingParameterError as exc:
            raise UsageError(
                f"%flight sql: no variable named {exc.args[0]!r} for :{exc.args[0]}"
            ) from None
        return read_flight(
            connection.client,
            sql=query,
            parameters=values or None,
            to=args.to or self.to,
            progress=self.progress if args.progress is None else args.progress,
            timeout=args.timeout if args.timeout is not None else self.timeout,
        )

    def _sql_client(self) -> FlightSqlClient:
        return FlightSqlClient(self._require_connection().client)

    def _tables(self, args: argparse.Namespace, cell: str | None) -> Any:
        table = self._sql_client().get_tables(
            catalog=args.catalog,
            db_schema_filter_pattern=args.db_schema,
            table_name_filter_pattern=args.pattern,
        )
        return _arrow_display(table, f"{table.num_rows} tables")

    def _catalogs(self, args: argparse.Namespace, cell: str | None) -> Any:
        table = self._sql_client().get_catalogs()
        return _arrow_display(table, f"{table.num_rows} catalogs")

    def _descriptor(self, args: argparse.Namespace) -> FlightDescriptor:
        if args.cmd is not None and not args.path:
            return FlightDescriptor.for_command(args.cmd)
        if args.path and args.cmd is None:
            return FlightDescriptor.for_path(*args.path)
        raise UsageError(f"%flight {args.command}: give a PATH or --cmd COMMAND")

    def _list(self, args: argparse.Namespace, cell: str | None) -> Any:
        client = self._require_connection().client
        return tables.flights_table(list(client.list_flights(args.criteria.encode())))

    def _info(self, args: argparse.Namespace, cell: str | None) -> Any:
        client = self._require_connection().client
        return tables.Tables(tables.info_tables(client.get_flight_info(self._descriptor(args))))

    def _schema(self, args: argparse.Namespace, cell: str | None) -> Any:
        client = self._require_connection().client
        return tables.schema_table(client.get_schema(self._descriptor(args)))

    def _actions(self, args: argparse.Namespace, cell: str | None) -> Any:
        return tables.actions_table(self._require_connection().client.list_actions())

    def _action(self, args: argparse.Namespace, cell: str | None) -> Any:
        body = cell if cell is not None and args.body is None else args.body
        results = list(self._require_connection().client.do_action(args.type, body or b""))
        return tables.results_table(args.type, results)


def _sql_option_words(words: list[str]) -> list[str]:
    """``sql`` plus its leading options (the rest of the line is the query)."""
    taking_value = {"--to", "--timeout", "-o", "--output"}
    kept = ["sql"]
    i = 1
    while i < len(words) and words[i].startswith("-"):
        kept.append(words[i])
        if words[i] in taking_value and i + 1 < len(words):
            kept.append(words[i + 1])
            i += 1
        i += 1
    return kept


def _sql_text(line: str, words: list[str]) -> str:
    """The query text of a line-form ``sql``: the raw line after the options, unsplit."""
    options = _sql_option_words(words)[1:]
    rest = line.strip()[len("sql") :].lstrip()
    for word in options:
        position = rest.find(word)
        rest = rest[position + len(word) :].lstrip() if position >= 0 else rest
    return rest


def _split_assignment(line: str) -> tuple[str | None, str]:
    """``NAME << rest`` (jupysql style) -> ("NAME", "rest")."""
    name, sep, rest = line.partition("<<")
    if sep and name.strip().isidentifier():
        return name.strip(), rest.strip()
    return None, line


def _arrow_display(table: Any, title: str) -> tables.DisplayTable:
    """A small Arrow result (metadata listings) as a readable table."""
    rows = [list(row.values()) for row in table.to_pylist()]
    return tables.DisplayTable(table.column_names, rows, title=title)


def _describe(request: dict[str, Any]) -> str:
    if "path" in request:
        return "/".join(request["path"])
    if "ticket" in request:
        return f"ticket {request['ticket']!r}"
    return "command"


def _preview(result: Any, limit: int, name: str) -> Any:
    """What to show after storing ``result`` in ``name``: a count and the first rows."""
    shown = None if isinstance(result, BackgroundRead) else preview(result, limit)
    if shown is None:
        return result
    rows, head = shown
    print(f"{name}: {rows:,} rows (showing {min(rows, limit)})")
    return head
