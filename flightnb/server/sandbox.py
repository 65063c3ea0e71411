"""The SQL sandbox: client queries reach the served database and nothing else of the host.

:func:`lock_down` sets DuckDB's own switches once, before the first client query, on the
database every connection of the server shares:

* ``allowed_directories``: the directories given with ``--allow-dir``, the only host files
  queries may read or write (the served database file itself stays DuckDB's own business);
* ``temp_directory``: a fresh directory only the server's user may enter, removed at shutdown.
  DuckDB lets queries reach its temporary directory whatever the other switches say, and its
  default is ``.tmp`` in the working directory (``<file>.tmp`` beside a database file): a
  directory of the owner's, which may hold anything;
* ``enable_external_access = false``: no other file, directory listing or URL
  (``read_csv``, ``read_text``, ``glob``, ``read_parquet``, ``COPY ... TO``, ``EXPORT
  DATABASE``, ``ATTACH`` of a file, ``INSTALL``, secrets stored on disk);
* ``autoinstall_known_extensions`` and ``autoload_known_extensions`` off: no extension is
  fetched or loaded behind a query's back;
* ``lock_configuration = true``, last: no ``SET``, ``RESET`` or ``PRAGMA`` may change any
  of the above (or any other setting) afterwards.

:func:`refuse_escapes` is the second wall, in front of DuckDB: statements whose kind has no
business on a shared server (``ATTACH``, also of ``:memory:``; ``DETACH``; ``INSTALL`` and
``LOAD``; ``EXPORT``; ``SET``, ``RESET`` and ``USE``) are refused with PERMISSION_DENIED
before DuckDB sees them. So is every ``PRAGMA`` but those that only read (``table_info``,
``show_tables``, ...): ``IMPORT DATABASE`` is one, and it runs the statements of a
``schema.sql`` inside DuckDB, past this check (from an ``--allow-dir`` a client may write to).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

import duckdb

from flightnb.server.errors import denied

__all__ = ["lock_down", "refuse_escapes"]

_REFUSED = {
    duckdb.StatementType.ATTACH: "ATTACH",
    duckdb.StatementType.DETACH: "DETACH",
    duckdb.StatementType.LOAD: "INSTALL and LOAD",
    duckdb.StatementType.EXPORT: "EXPORT DATABASE",
    duckdb.StatementType.SET: "SET, RESET and USE",
}

# PRAGMAs that only read; any other (IMPORT DATABASE, COPY FROM DATABASE, ...) is refused.
_READING_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "functions",
        "metadata_info",
        "platform",
        "show",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)
# Whitespace and comments (as DuckDB reads them), then PRAGMA, then its name, plain or quoted.
# A comment holding another "/*" does not match: DuckDB nests comments, so the name it reads
# could come later than the one read here; unmatched text counts as a PRAGMA that writes.
# The possessive "*+" never backtracks, so no input makes matching slow.
_SKIP = r"(?:[ \t\n\r\f\v]|--[^\n\r]*|/\*(?:[^*/]|\*(?!/)|/(?!\*))*\*/)*+"
_PRAGMA = re.compile(rf"{_SKIP}pragma{_SKIP}(?:(\w+)|\"([^\"]*)\")", re.IGNORECASE)


def _reads_only(pragma: str) -> bool:
    """True for a PRAGMA statement whose name is one of :data:`_READING_PRAGMAS`."""
    match = _PRAGMA.match(pragma)
    if match is None:  # IMPORT DATABASE, COPY FROM DATABASE: no PRAGMA keyword at all
        return False
    name = match.group(1) or match.group(2) or ""
    return name.lower() in _READING_PRAGMAS


def lock_down(db: duckdb.DuckDBPyConnection, allow_dirs: Sequence[str] = ()) -> Path:
    """Confine every connection of ``db`` to its database and ``allow_dirs`` (see above).

    Returns the private temporary directory given to DuckDB; the caller removes it when
    the database is closed.

    Raises
    ------
    ValueError
        When a directory of ``allow_dirs`` does not exist.
    """
    directories = []
    for directory in allow_dirs:
        path = os.path.realpath(directory)
        if not os.path.isdir(path):
            raise ValueError(f"--allow-dir {directory!r} is not a directory")
        directories.append(path.rstrip("/") + "/")
    if directories:
        db.execute("SET allowed_directories = ?", [directories])
    # Before external access goes off: DuckDB allows queries into the temporary directory it
    # has at that moment, and refuses to change it afterwards.
    spill = Path(tempfile.mkdtemp(prefix="flightnb-duckdb-"))  # mode 0700
    db.execute("SET temp_directory = ?", [str(spill)])
    db.execute("SET autoinstall_known_extensions = false")
    db.execute("SET autoload_known_extensions = false")
    db.execute("SET enable_external_access = false")
    db.execute("SET lock_configuration = true")
    return spill


def refuse_escapes(con: duckdb.DuckDBPyConnection, query: str) -> None:
    """Raise PERMISSION_DENIED if ``query`` holds a statement the sandbox refuses.

    A query DuckDB cannot split into statements passes: running it fails with DuckDB's own
    syntax error.
    """
    try:
        statements = con.extract_statements(query)
    except (duckdb.Error, ValueError):
        return
    for statement in statements:
        kind = _REFUSED.get(statement.type)
        if kind is not None:
            raise denied(f"this server does not allow {kind}")
        if statement.type == duckdb.StatementType.PRAGMA and not _reads_only(statement.query):
            raise denied(
                "this server allows only PRAGMAs that read (such as table_info and "
                "show_tables), not IMPORT DATABASE or COPY FROM DATABASE"
            )
