"""What a Flight SQL server was found to lack, remembered per client.

The Flight SQL spec leaves much optional, and SqlInfo says little of it (nothing about binding
parameters, for instance). So flightnb learns a server's gaps from its answers: an
UNIMPLEMENTED or FAILED_PRECONDITION reply to the call that needs the capability. What it
learns is kept in a :class:`SqlCapabilities` per :class:`~flightnb.AsyncFlightClient`, so the
next query on that client takes the fallback at once instead of failing again, and the scan
can say in ``explain()`` what it does instead.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import pyarrow as pa

from flightnb.errors import FlightError, FlightNotImplementedError
from flightnb.protocol.dialects import Dialect

__all__ = [
    "BINDING",
    "BINDING_FALLBACK",
    "SqlCapabilities",
    "capabilities_of",
    "is_placeholder_schema",
    "refuses_capability",
]

#: The capability :class:`~flightnb.FlightCapabilityError` names when binding fails.
BINDING = "parameter binding"
#: What the caller can do instead.
BINDING_FALLBACK = (
    "write the values into the SQL text; scan_flight filters do that by themselves "
    "(typed, escaped literals) or keep the filter on the client"
)


#: The column Deephaven announces as a prepared statement's dataset schema before it has run
#: the query (its Flight SQL server plans lazily); GetSchema of the query gives the real one.
PLACEHOLDER_COLUMNS = (["DO_NOT_USE"],)


def is_placeholder_schema(schema: pa.Schema | None) -> bool:
    """Whether a schema announced ahead of a query says nothing about its result.

    Examples
    --------
    >>> is_placeholder_schema(pa.schema([("DO_NOT_USE", pa.string())]))
    True
    >>> is_placeholder_schema(pa.schema([("n", pa.int64())]))
    False
    """
    return schema is None or len(schema) == 0 or schema.names in PLACEHOLDER_COLUMNS


@dataclass
class SqlCapabilities:
    """What flightnb knows of one server's optional Flight SQL features.

    Attributes
    ----------
    parameter_binding : bool or None
        Whether prepared statements take bound parameters (DoPut of
        ``CommandPreparedStatementQuery``); None until a call has shown it.
    binding_answer : str or None
        The server's answer that showed binding is missing (for ``explain()`` and reports).
    dataset_schema : bool or None
        Whether prepared statements announce their real result schema; False when the server
        sent none or a placeholder, so the schema comes from GetSchema or the first batch.
    dialect : Dialect or None
        The server's SQL dialect (:func:`flightnb.sql.dialect.server_dialect`); None until
        asked.
    """

    parameter_binding: bool | None = None
    binding_answer: str | None = None
    dataset_schema: bool | None = None
    dialect: Dialect | None = None

    def lacks_binding(self, answer: FlightError) -> None:
        """Remember that the server refused to bind, with its answer."""
        self.parameter_binding = False
        self.binding_answer = str(answer)


_BY_CLIENT: weakref.WeakKeyDictionary[object, SqlCapabilities] = weakref.WeakKeyDictionary()


def capabilities_of(client: object) -> SqlCapabilities:
    """The capabilities learnt on ``client`` (an AsyncFlightClient), created empty at first."""
    found = _BY_CLIENT.get(client)
    if found is None:
        found = _BY_CLIENT[client] = SqlCapabilities()
    return found


def refuses_capability(error: BaseException) -> bool:
    """Whether ``error`` is a server saying it lacks a feature (UNIMPLEMENTED or
    FAILED_PRECONDITION), as opposed to a fault in this request."""
    if isinstance(error, FlightNotImplementedError):
        return True
    return isinstance(error, FlightError) and error.code == "FAILED_PRECONDITION"
