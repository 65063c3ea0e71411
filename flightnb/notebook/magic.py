"""The ``%flight`` / ``%%flight`` IPython magic.

Load with ``%load_ext flightnb``; configure with ``%config FlightMagic.to = "polars"``. This
module only dispatches: parsing is in :mod:`~flightnb.notebook.parsing`, connections in
:mod:`~flightnb.notebook.connections`, how results look in
:mod:`~flightnb.notebook.rendering`, background reads in
:mod:`~flightnb.notebook.background`, tab completion in
:mod:`~flightnb.notebook.completion`. User mistakes are IPython ``UsageError`` (one line in
the notebook); a server's error is a :class:`~flightnb.FlightError`, also shown in one line.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import Bool, Float, Int, TraitError, Unicode, observe, validate

from flightnb.convert import TARGETS, UnsupportedTypeError
from flightnb.doctor import DEFAULT_PROBE_SECONDS, diagnose
from flightnb.errors import FlightError
from flightnb.functions.read import read_flight, read_flight_async
from flightnb.notebook import rendering
from flightnb.notebook.background import start_background
from flightnb.notebook.completion import remember_paths, remember_tables
from flightnb.notebook.connections import (
    DEFAULT_ALIAS,
    WHERE_SECRETS_GO,
    Connection,
    Connections,
    ConnectionSpec,
    default_connections_file,
    open_connection,
    refuse_secret_header,
    registry_for,
)
from flightnb.notebook.parsing import build_parser, expand_variables, help_text, parse
from flightnb.notebook.parsing import split_assignment as _split_assignment
from flightnb.notebook.placeholders import MissingParameterError, bind_placeholders
from flightnb.progress import WidgetProgress, auto_observer
from flightnb.progress.state import error_text, shorten
from flightnb.sql.sync import FlightSqlClient
from flightnb.types import FlightDescriptor

__all__ = ["FlightMagic"]

SQL_PROBE_SECONDS = 5.0
# Codes that say nothing about the server's protocol (it did not really answer).
_NO_ANSWER = (
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "CANCELLED",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_SQL_WORDS = re.compile(
    r"^\s*(select|with|insert|update|delete|create|drop|alter|show|describe|explain|pragma|"
    r"values|from|copy|attach|set|call)\b",
    re.IGNORECASE,
)


@magics_class
class FlightMagic(Magics):
    """``%flight``: connect to Flight services and read from them in a notebook."""

    to = Unicode("arrow", help="What reads return: arrow, pandas or polars.").tag(config=True)
    progress = Bool(
        None,
        allow_none=True,
        help="Progress display: None = automatic, True = always, False = never.",
    ).tag(config=True)
    displaylimit = Int(
        10,
        allow_none=True,
        help="Rows shown of a result (bare or stored with -o); None or 0 shows all.",
    ).tag(config=True)
    timeout = Float(None, allow_none=True, help="Default bound on a read, in seconds.").tag(
        config=True
    )
    connect_timeout = Float(
        5.0, help="Seconds %flight connect waits for the server's first answer."
    ).tag(config=True)
    connections_file = Unicode(
        None,
        allow_none=True,
        help="TOML file of named connections (default: $FLIGHTNB_CONNECTIONS or "
        "~/.config/flightnb/connections.toml).",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._parser = build_parser()
        # Per shell, outside this object: %reload_ext makes a new magic, same connections.
        self.connections: Connections = registry_for(shell) if shell is not None else Connections()
        self.connections.load_sources(self._connections_path())
        # Weak: the magic must not keep a large result alive after the user dropped it.
        self._last_result: Callable[[], Any] = _nothing
        self._unlimited: Callable[[], Any] = _nothing

    @validate("to")
    def _check_to(self, proposal: Any) -> str:
        if proposal["value"] not in TARGETS:
            raise TraitError(f"FlightMagic.to must be one of {', '.join(TARGETS)}")
        return str(proposal["value"])

    @validate("displaylimit")
    def _check_displaylimit(self, proposal: Any) -> int | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise TraitError("FlightMagic.displaylimit must be None, 0 (all rows) or positive")
        return value  # type: ignore[no-any-return]

    @observe("connections_file")
    def _reload_file(self, _change: Any) -> None:
        self.connections.load_sources(self._connections_path())

    def _connections_path(self) -> Path:
        if self.connections_file:
            return Path(self.connections_file).expanduser()
        return default_connections_file()

    @property
    def connection(self) -> Connection | None:
        """The active connection, if one is open (``None`` closes every connection)."""
        active = self.connections.active
        if active is None:
            return None
        return next((c for c in self.connections.open_connections() if c.alias == active), None)

    @connection.setter
    def connection(self, value: Connection | None) -> None:
        if value is not None:
            self.connections.add(value)
        else:
            self.connections.close_all()

    # --- dispatch ------------------------------------------------------------------------

    @line_cell_magic
    @no_var_expand
    def flight(self, line: str, cell: str | None = None) -> Any:
        """Arrow Flight in the notebook; ``%flight help`` lists the subcommands and options."""
        target, line = _split_assignment(line)
        first = line.split(None, 1)[0] if line.strip() else "help"
        if first != "sql":
            # SQL is taken as typed; every other line expands {name} and $name like any magic.
            line = expand_variables(line, self._namespace())
        words = line.split()
        if first in ("help", "-h", "--help"):
            print(help_text(self._parser, words[1] if len(words) > 1 else None))
            return None
        # "--help" after a subcommand (for sql only right after it: later, it is SQL text).
        asked = words[1:2] if first == "sql" else words[1:]
        if "-h" in asked or "--help" in asked:
            print(help_text(self._parser, first if first in _handlers() else None))
            return None
        if first not in _handlers():
            raise UsageError(f"%flight: unknown subcommand {first!r}; try %flight help")
        args = parse(self._parser, line)
        if target:
            args.output = target
        try:
            result = _handlers()[args.command](self, args, cell)
        except UnsupportedTypeError as exc:
            raise UsageError(
                f"%flight {args.command}: column {exc.column!r} has type {exc.type}, which "
                "polars cannot hold; use --to arrow or --to pandas"
            ) from None
        except FlightError as exc:
            raise exc.with_traceback(None) from None
        return self._deliver(result, getattr(args, "output", None))

    def _deliver(self, result: Any, output: str | None) -> Any:
        if output is None:
            self._last_result = _weak(result)
            return result
        if not output.isidentifier():
            raise UsageError(f"%flight: -o needs a variable name, got {output!r}")
        self._namespace()[output] = result
        if rendering.ResultTable.supports(result):
            shown: Any = rendering.ResultTable(result, self._limit_for(result), name=output)
        else:
            shown = result
        display(shown)  # type: ignore[no-untyped-call]
        return None

    def _limit_for(self, data: Any) -> int | None:
        """Rows to show of ``data``: all of a metadata listing, else ``displaylimit``."""
        return None if data is self._unlimited() else self.displaylimit

    def _last(self) -> Any:
        return self._last_result()

    def _namespace(self) -> dict[str, Any]:
        """The notebook's variables."""
        if self.shell is None:
            raise UsageError("%flight needs an IPython shell")
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    def _connection(self, args: argparse.Namespace) -> Connection:
        alias = getattr(args, "conn", None)
        if alias is None and self.connections.active is None:
            # FLIGHTNB_URI or the file may have appeared since the extension was loaded.
            self.connections.load_sources(self._connections_path())
        return self.connections.get(alias)

    # --- connections ---------------------------------------------------------------------

    def _connect(self, args: argparse.Namespace, cell: str | None) -> None:
        where = "%flight connect"
        if args.token is not None or args.password is not None:
            option = "--token" if args.token is not None else "--password"
            raise UsageError(f"{where}: {option} is not accepted; {WHERE_SECRETS_GO}")
        if "://" in args.uri:
            base = ConnectionSpec(alias=args.alias or DEFAULT_ALIAS, uri=args.uri)
        else:  # a named connection keeps all it has (its grpc_options too), under the alias
            named = self._named(args.uri, where)
            base = dataclasses.replace(named, alias=args.alias or args.uri, ask_token=False)
        spec = _with_login_options(base, args, where)
        alias = spec.alias
        # A failure raises here, before anything changes: the previous connection stays.
        connection = open_connection(spec, check=not args.no_check, timeout=self.connect_timeout)
        self.connections.add(connection)
        checked = "" if args.no_check else ", server answered"
        print(f"connected to {spec.uri} (as {alias!r}, auth: {spec.auth}{checked})")

    def _use(self, args: argparse.Namespace, cell: str | None) -> None:
        connection = self.connections.use(args.alias, check=True)
        print(f"using {connection.alias!r}: {connection.uri}")

    def _connections(self, args: argparse.Namespace, cell: str | None) -> Any:
        self.connections.load_sources(self._connections_path())
        rows = self.connections.rows()
        table = rendering.DisplayTable(
            ["active", "alias", "uri", "auth", "from", "state"],
            rows,
            title=f"{len(rows)} connections",
        )
        return table

    # --- reading -------------------------------------------------------------------------

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

    def _options(self, args: argparse.Namespace) -> tuple[str, bool | None, float | None]:
        to = args.to or self.to
        progress = self.progress if args.progress is None else args.progress
        timeout = args.timeout if args.timeout is not None else self.timeout
        return to, progress, timeout

    def _get(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._connection(args)
        request = self._request(args, cell)
        to, progress, timeout = self._options(args)
        label = _label(request)
        if getattr(args, "sink", None):
            if args.bg:
                raise UsageError("%flight get: --sink and --bg do not go together")
            return _write_sink(connection.client, args.sink, progress, timeout, request)
        observer = auto_observer(progress, label=label, timeout=timeout)
        if args.bg:
            if isinstance(observer, WidgetProgress):
                observer.reserve_output()  # the widget shows in this cell, drawn later
            coroutine = read_flight_async(
                connection.client, to=to, progress=observer or False, timeout=timeout, **request
            )
            return start_background(coroutine, label.replace("read ", "read of ", 1))
        try:
            return read_flight(
                connection.client, to=to, progress=observer or False, timeout=timeout, **request
            )
        except FlightError as exc:
            if "command" in request:
                self._explain_command(connection, "get", request["command"], exc)
            raise

    def _sql(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._connection(args)
        query = self._query(args, cell)
        try:
            query, values = bind_placeholders(query, self._namespace())
        except MissingParameterError as exc:
            raise UsageError(
                f"%flight sql: no variable named {exc.args[0]!r} for :{exc.args[0]}"
            ) from None
        to, progress, timeout = self._options(args)
        if getattr(args, "sink", None):
            request = {"sql": query, "parameters": values or None}
            return self._flight_sql(
                connection,
                "sql",
                lambda: _write_sink(connection.client, args.sink, progress, timeout, request),
            )
        observer = auto_observer(progress, label=f"read SQL {shorten(query)!r}", timeout=timeout)
        return self._flight_sql(
            connection,
            "sql",
            lambda: read_flight(
                connection.client,
                sql=query,
                parameters=values or None,
                to=to,
                progress=observer or False,
                timeout=timeout,
            ),
        )

    def _query(self, args: argparse.Namespace, cell: str | None) -> str:
        # IPython refuses an empty cell body: with --file, a body of comments only is none.
        body = cell if cell is not None and _COMMENTS.sub("", cell).strip() else None
        given = [
            what
            for what, v in (("cell body", body), ("--file", args.file), ("query", args.query))
            if v
        ]
        if len(given) > 1:
            raise UsageError(f"%flight sql: give the query once (got {' and '.join(given)})")
        if args.file:
            try:
                return Path(args.file).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise UsageError(f"%flight sql: cannot read {args.file}: {exc.strerror}") from None
        query = (body or args.query or "").strip()
        if not query:
            raise UsageError(
                "%flight sql: no query; write it after sql, in the cell body, or --file FILE"
            )
        return query

    # --- Flight SQL metadata -------------------------------------------------------------

    def _flight_sql(self, connection: Connection, command: str, call: Callable[[], Any]) -> Any:
        """Run a Flight SQL call; a server that does not speak Flight SQL is a UsageError."""
        try:
            result = call()
        except FlightError as exc:
            if exc.code not in _NO_ANSWER and not self._speaks_sql(connection):
                raise UsageError(
                    f"%flight {command}: this server does not speak Flight SQL "
                    f"({connection.uri} answered {exc.code or type(exc).__name__}); "
                    "use %flight list / get for its flights"
                ) from None
            raise
        connection.speaks_sql = True
        return result

    def _speaks_sql(self, connection: Connection) -> bool:
        """Does the server answer GetSqlInfo? Asked once per connection, briefly."""
        if connection.speaks_sql is None:
            try:
                FlightSqlClient(connection.client).get_sql_info(
                    "FLIGHT_SQL_SERVER_NAME", timeout=SQL_PROBE_SECONDS
                )
            except FlightError as exc:
                if exc.code in _NO_ANSWER:
                    return True  # no verdict: let the original error speak
                connection.speaks_sql = False
            else:
                connection.speaks_sql = True
        return bool(connection.speaks_sql)

    def _explain_command(
        self, connection: Connection, command: str, text: str, error: FlightError
    ) -> None:
        """A ``--cmd`` holding SQL that the server refused: say what to do instead."""
        if error.code in _NO_ANSWER or not _SQL_WORDS.match(text):
            return
        if self._speaks_sql(connection):
            raise UsageError(
                f"%flight {command}: --cmd sends the text as raw command bytes, which this Flight "
                "SQL server does not take; run the query with %flight sql or %%flight sql"
            ) from None
        raise UsageError(
            f"%flight {command}: this server does not speak Flight SQL, and it refused the "
            f"command ({error_text(error)})"
        ) from None

    def _tables(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._connection(args)
        table = self._flight_sql(
            connection,
            "tables",
            lambda: FlightSqlClient(connection.client).get_tables(
                catalog=args.catalog,
                db_schema_filter_pattern=args.db_schema,
                table_name_filter_pattern=args.pattern,
            ),
        )
        if args.pattern is None and args.catalog is None and args.db_schema is None:
            remember_tables(connection, table)
        self._unlimited = _weak(table)
        return table

    def _catalogs(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._connection(args)
        table = self._flight_sql(
            connection, "catalogs", lambda: FlightSqlClient(connection.client).get_catalogs()
        )
        self._unlimited = _weak(table)
        return table

    # --- looking around ------------------------------------------------------------------

    def _descriptor(self, args: argparse.Namespace) -> FlightDescriptor:
        if args.cmd is not None and not args.path:
            return FlightDescriptor.for_command(args.cmd)
        if args.path and args.cmd is None:
            return FlightDescriptor.for_path(*args.path)
        raise UsageError(f"%flight {args.command}: give a PATH or --cmd COMMAND")

    def _described(
        self, args: argparse.Namespace, call: Callable[[Any, FlightDescriptor], Any]
    ) -> Any:
        connection = self._connection(args)
        descriptor = self._descriptor(args)
        try:
            return call(connection.client, descriptor)
        except FlightError as exc:
            if args.cmd is not None:
                self._explain_command(connection, args.command, args.cmd, exc)
            raise

    def _list(self, args: argparse.Namespace, cell: str | None) -> Any:
        connection = self._connection(args)
        flights = rendering.FlightList(connection.client.list_flights(args.criteria.encode()))
        if not args.criteria:
            remember_paths(connection, flights)
        return flights

    def _info(self, args: argparse.Namespace, cell: str | None) -> Any:
        return self._described(args, lambda client, d: client.get_flight_info(d))

    def _schema(self, args: argparse.Namespace, cell: str | None) -> pa.Schema:
        return self._described(args, lambda client, d: client.get_schema(d))

    def _actions(self, args: argparse.Namespace, cell: str | None) -> Any:
        return rendering.ActionList(self._connection(args).client.list_actions())

    def _action(self, args: argparse.Namespace, cell: str | None) -> Any:
        body = cell if cell is not None and args.body is None else args.body
        client = self._connection(args).client
        return rendering.ResultList(args.type, list(client.do_action(args.type, body or b"")))

    # --- diagnosis -------------------------------------------------------------------------

    def _doctor(self, args: argparse.Namespace, cell: str | None) -> Any:
        """Probe a server (a URI, a named connection, else the active one); one table."""
        where = "%flight doctor"
        if args.token is not None or args.password is not None:
            option = "--token" if args.token is not None else "--password"
            raise UsageError(f"{where}: {option} is not accepted; {WHERE_SECRETS_GO}")
        timeout = args.timeout if args.timeout is not None else DEFAULT_PROBE_SECONDS
        if timeout <= 0:
            raise UsageError(f"{where}: --timeout must be positive")
        login: dict[str, Any] = {}
        if args.uri is None and not _login_given(args):
            # The connection as it is: its login is used, not asked for again.
            connection = self._connection(args)
            spec = dataclasses.replace(
                connection.spec, token_env=None, ask_token=False, user=None, password_env=None
            )
            login["login_from"] = connection.client.async_client
        else:
            spec = self._doctor_spec(args)
        options = spec.client_options(where)
        password = spec.password(where) if spec.user else None
        try:
            diagnosis = diagnose(
                spec.uri,
                username=spec.user,
                password=password,
                timeout=timeout,
                **login,
                **options,
            )
        except FlightError as exc:  # a location that is not one
            raise UsageError(f"{where}: {exc.message}") from None
        if not diagnosis.answered:
            raise UsageError(f"{where}: {diagnosis.reason}")
        if args.output:
            if not args.output.isidentifier():
                raise UsageError(f"{where}: -o needs a variable name, got {args.output!r}")
            self._namespace()[args.output] = diagnosis
            args.output = None  # the table is shown; the variable holds the Diagnosis
        return rendering.DiagnosisTable(diagnosis)

    def _doctor_spec(self, args: argparse.Namespace) -> ConnectionSpec:
        """The connection to probe, with this line's options over its own."""
        where = "%flight doctor"
        if args.uri is None:
            base = self._connection(args).spec
        elif "://" in args.uri:
            base = ConnectionSpec(alias="doctor", uri=args.uri)
        else:
            base = self._named(args.uri, where)
        return _with_login_options(base, args, where)

    def _named(self, name: str, where: str) -> ConnectionSpec:
        """The named connection ``name`` (from the file or the environment)."""
        named = self.connections.spec(name)
        if named is None:
            known = ", ".join(self.connections.aliases) or "none"
            raise UsageError(
                f"{where}: {name!r} is neither a URI (grpc://host:port) nor a named "
                f"connection (known: {known})"
            )
        return named


def _with_login_options(
    base: ConnectionSpec, args: argparse.Namespace, where: str
) -> ConnectionSpec:
    """``base`` with the login options of a ``connect`` or ``doctor`` line over its own."""
    headers = _pairs(args.header, "--header", "NAME=VALUE", where)
    for name, value in headers.items():
        refuse_secret_header(name, value, where)
    headers_env = _pairs(args.header_env, "--header-env", "NAME=VARIABLE", where)
    return dataclasses.replace(
        base,
        token_env=args.token_env or base.token_env,
        ask_token=args.ask_token or base.ask_token,
        user=args.user or base.user,
        password_env=args.password_env or base.password_env,
        headers={**base.headers, **headers},
        headers_env={**base.headers_env, **headers_env},
        tls_roots=args.tls_roots or base.tls_roots,
        insecure_skip_verify=args.insecure_skip_verify or base.insecure_skip_verify,
    )


def _handlers() -> dict[str, Callable[[FlightMagic, argparse.Namespace, str | None], Any]]:
    return {
        "connect": FlightMagic._connect,
        "use": FlightMagic._use,
        "connections": FlightMagic._connections,
        "get": FlightMagic._get,
        "sql": FlightMagic._sql,
        "tables": FlightMagic._tables,
        "catalogs": FlightMagic._catalogs,
        "list": FlightMagic._list,
        "info": FlightMagic._info,
        "schema": FlightMagic._schema,
        "actions": FlightMagic._actions,
        "action": FlightMagic._action,
        "doctor": FlightMagic._doctor,
    }


def _login_given(args: argparse.Namespace) -> bool:
    """Did the line give a login or headers of its own (``%flight doctor --user ...``)?"""
    return bool(
        args.token_env
        or args.ask_token
        or args.user
        or args.password_env
        or args.header
        or args.header_env
        or args.tls_roots
        or args.insecure_skip_verify
    )


def _nothing() -> None:
    return None


def _weak(value: Any) -> Callable[[], Any]:
    """A weak reference to ``value`` (or to nothing, for objects that take none)."""
    try:
        return weakref.ref(value)
    except TypeError:
        return _nothing


def _pairs(values: list[str], option: str, form: str, where: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            # Not echoed: header values are often credentials, and this line is saved with
            # the notebook's outputs.
            raise UsageError(
                f"{where}: {option} wants {form}; one {option} had no '=' after a name"
            )
        pairs[key.strip()] = rest
    return pairs


def _label(request: dict[str, Any]) -> str:
    """The progress header's words for a read: what is read."""
    if "path" in request:
        return f"read {'/'.join(request['path'])}"
    if "ticket" in request:
        return f"read ticket {shorten(str(request['ticket']))!r}"
    return f"read command {shorten(str(request['command']))!r}"


def _write_sink(
    client: Any, where: str, progress: bool | None, timeout: float | None, request: dict[str, Any]
) -> Any:
    """``--sink``: stream the read into a file, print the summary and return it."""
    from flightnb.functions.sinks import check_sink, write_sink

    try:
        check_sink(where)
    except FlightError as exc:
        raise UsageError(f"%flight --sink: {exc.message}") from None
    summary = write_sink(client, where, progress=progress, timeout=timeout, **request)
    print(summary)
    return summary
