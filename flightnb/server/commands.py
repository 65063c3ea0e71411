"""Flight SQL command packing for the server: re-exported from :mod:`flightnb.sql.commands`.

The helpers live in the client-side ``flightnb.sql`` package, which imports neither
``pyarrow.flight`` nor DuckDB, so client and server share one implementation.
"""

from __future__ import annotations

from flightnb.sql.commands import (
    ACTION_BEGIN_SAVEPOINT,
    ACTION_BEGIN_TRANSACTION,
    ACTION_CANCEL_FLIGHT_INFO,
    ACTION_CANCEL_QUERY,
    ACTION_CLOSE_PREPARED_STATEMENT,
    ACTION_CREATE_PREPARED_STATEMENT,
    ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN,
    ACTION_END_SAVEPOINT,
    ACTION_END_TRANSACTION,
    TYPE_URL_PREFIX,
    CommandDecodeError,
    message_class,
    pack,
    type_url,
    unpack,
    unpack_as,
)

__all__ = [
    "ACTION_BEGIN_SAVEPOINT",
    "ACTION_BEGIN_TRANSACTION",
    "ACTION_CANCEL_FLIGHT_INFO",
    "ACTION_CANCEL_QUERY",
    "ACTION_CLOSE_PREPARED_STATEMENT",
    "ACTION_CREATE_PREPARED_STATEMENT",
    "ACTION_CREATE_PREPARED_SUBSTRAIT_PLAN",
    "ACTION_END_SAVEPOINT",
    "ACTION_END_TRANSACTION",
    "TYPE_URL_PREFIX",
    "CommandDecodeError",
    "message_class",
    "pack",
    "type_url",
    "unpack",
    "unpack_as",
]
