"""Tab completion for ``%flight``: subcommands, options, their choices, aliases, paths, tables.

Registered with IPython's ``complete_command`` hook for lines that use the magic. Flight
paths and table names come from what the connection has seen (``%flight list``,
``%flight tables``), fetched once with a short deadline when nothing was seen yet, so a
completion never waits on a slow server for long.
"""

from __future__ import annotations

import argparse
import logging
import re
from collections.abc import Callable
from typing import Any

from flightnb.convert import TARGETS
from flightnb.notebook.connections import Connection, Connections
from flightnb.notebook.parsing import SUBCOMMANDS, option_words, subparsers

__all__ = ["FlightCompleter", "install_completer"]

_log = logging.getLogger("flightnb.notebook")

FETCH_SECONDS = 1.0
_MAGIC = re.compile(r"^(?:.*?=\s*)?%%?flight\s")
_PATH_COMMANDS = ("get", "info", "schema")
_SQL_COMMANDS = ("sql", "tables")


class FlightCompleter:
    """Completes the word under the cursor of a ``%flight`` / ``%%flight`` line."""

    def __init__(
        self, parser: argparse.ArgumentParser, registry: Callable[[], Connections]
    ) -> None:
        self._parser = parser
        self._registry = registry
        self._fetched: set[tuple[int, str]] = set()

    def __call__(self, _shell: Any, event: Any) -> list[str]:
        try:
            return self.complete(event.text_until_cursor, event.symbol)
        except Exception:  # a completer must never raise into the frontend
            _log.debug("completion failed", exc_info=True)
            return []

    def complete(self, text_until_cursor: str, symbol: str) -> list[str]:
        line = text_until_cursor.split("\n", 1)[0]
        match = _MAGIC.match(line)
        if match is None:
            return []
        words = line[match.end() :].split()
        if not line.endswith((" ", "\t")) and words:
            words = words[:-1]  # the last word is the one being completed
        if not words:
            return _starting(symbol, list(SUBCOMMANDS))
        command = words[0]
        commands = subparsers(self._parser)
        if command not in commands:
            return []
        options = option_words(commands[command])
        previous = words[-1] if len(words) > 1 else None
        if previous is not None and options.get(previous):
            return _starting(symbol, self._values_of(previous))
        if symbol.startswith("-"):
            return _starting(symbol, sorted(options))
        positional = [
            w for i, w in enumerate(words[1:], 1) if not _is_option_or_value(words, i, options)
        ]
        return _starting(symbol, self._positionals(command, positional))

    def _values_of(self, option: str) -> list[str]:
        if option == "--to":
            return list(TARGETS)
        if option == "--conn":
            return self._registry().aliases
        return []  # files and free text: IPython's own matchers take over

    def _positionals(self, command: str, before: list[str]) -> list[str]:
        registry = self._registry()
        if command in ("use", "connect") and not before:
            return registry.aliases
        if command == "help" and not before:
            return list(SUBCOMMANDS)
        if command in _PATH_COMMANDS:
            connection = self._connection(registry)
            if connection is None:
                return []
            self._fetch_paths(connection)
            paths = [p.split("/") for p in connection.flight_paths]
            depth = len(before)
            return sorted({p[depth] for p in paths if len(p) > depth and p[:depth] == before})
        if command in _SQL_COMMANDS:
            connection = self._connection(registry)
            if connection is None:
                return []
            self._fetch_tables(connection)
            return sorted(set(connection.table_names))
        return []

    @staticmethod
    def _connection(registry: Connections) -> Connection | None:
        try:
            return registry.get()
        except Exception:
            return None

    def _fetch_paths(self, connection: Connection) -> None:
        key = (id(connection), "paths")
        if connection.flight_paths or key in self._fetched:
            return
        self._fetched.add(key)
        try:
            infos = connection.client.list_flights(timeout=FETCH_SECONDS)
            remember_paths(connection, list(infos))
        except Exception:
            _log.debug("could not list flights for completion", exc_info=True)

    def _fetch_tables(self, connection: Connection) -> None:
        key = (id(connection), "tables")
        if connection.table_names or key in self._fetched or connection.speaks_sql is False:
            return
        self._fetched.add(key)
        try:
            from flightnb.sql.sync import FlightSqlClient

            tables = FlightSqlClient(connection.client).get_tables(timeout=FETCH_SECONDS)
            remember_tables(connection, tables)
        except Exception:
            _log.debug("could not list tables for completion", exc_info=True)


def remember_paths(connection: Connection, infos: list[Any]) -> None:
    """Keep the path descriptors of ``infos`` for completion."""
    paths = []
    for info in infos:
        descriptor = getattr(info, "descriptor", None)
        path = getattr(descriptor, "path", None)
        if path:
            paths.append("/".join(path))
    connection.flight_paths = sorted(set(paths))


def remember_tables(connection: Connection, table: Any) -> None:
    """Keep the table names of a GetTables result for completion."""
    if "table_name" in getattr(table, "column_names", ()):
        connection.table_names = sorted({str(n) for n in table.column("table_name").to_pylist()})


def _is_option_or_value(words: list[str], index: int, options: dict[str, bool]) -> bool:
    word = words[index]
    if word.startswith("-"):
        return True
    before = words[index - 1] if index > 1 else ""
    return bool(options.get(before))


def _starting(symbol: str, candidates: list[str]) -> list[str]:
    return [c for c in candidates if c.startswith(symbol)]


def install_completer(shell: Any, completer: FlightCompleter) -> None:
    """Register ``completer`` for every line that uses the magic (also ``x = %flight ...``)."""
    set_hook = getattr(shell, "set_hook", None)
    if set_hook is None:
        return
    dispatcher = getattr(shell, "strdispatchers", {}).get("complete_command")
    if dispatcher is not None:
        # %reload_ext registers a new completer: drop the old ones (they are ours).
        dispatcher.regexs = {
            key: chain
            for key, chain in dispatcher.regexs.items()
            if getattr(key, "pattern", key) != _MAGIC.pattern
        }
    set_hook("complete_command", completer, re_key=_MAGIC.pattern)
