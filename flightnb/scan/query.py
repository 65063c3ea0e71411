"""A Flight SQL query narrowed to what a scan needs: columns, a WHERE, a LIMIT.

The user's query is kept as written, as a subquery; the narrowing goes around it::

    SELECT "a", "b" FROM (<the query>) AS "_flightnb_scan" WHERE <condition> LIMIT <n>

so its own parameters, joins and ``GROUP BY`` mean what they meant. The condition's values
are bound after the query's own positional parameters (placeholders are ``?``, in text
order). Values are written into the SQL text only as the literals of a condition built for a
server that does not bind parameters (:mod:`flightnb.scan.literals`); otherwise the text gets
only quoted column names and the integer ``LIMIT``, which the scan itself computed.

Left as written (nothing pushed):

* queries with ``ORDER BY``: SQL does not promise that a subquery's order survives, and
  polars expects the rows in the query's order;
* statements that do not start with ``SELECT``, ``WITH``, ``VALUES``, ``TABLE`` or ``FROM``.

With named (dict) or per-row (table, frame) ``parameters`` a condition with ``?`` markers
stays local, as they cannot be mixed with named markers; columns and ``LIMIT`` are still pushed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flightnb.protocol.dialects import GENERIC, Dialect, quote_identifier
from flightnb.scan.predicate import SqlCondition

__all__ = ["SCAN_ALIAS", "NarrowedQuery", "narrow_query"]

SCAN_ALIAS = "_flightnb_scan"

_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_QUERY_START = re.compile(r"^\s*(\(\s*)*(select|with|values|table|from)\b", re.IGNORECASE)
_LEADING_COMMENTS = re.compile(r"^(\s*(--[^\n]*\n|/\*.*?\*/))*", re.DOTALL)


@dataclass(frozen=True)
class NarrowedQuery:
    """The query to send, its parameters, and what of the scan it already does."""

    query: str
    parameters: Any = field(default=None, repr=False)
    #: The server returns only these columns (None: the query's own columns).
    columns: tuple[str, ...] | None = None
    #: The WHERE sent (None: no condition was pushed).
    condition: SqlCondition | None = None
    #: The LIMIT sent (None: none).
    limit: int | None = None


def wrappable(query: str) -> bool:
    """Whether ``query`` can become a subquery (a plain read without ``ORDER BY``)."""
    body = _LEADING_COMMENTS.sub("", query)
    return bool(_QUERY_START.match(body)) and not _ORDER_BY.search(query)


def narrow_query(
    query: str,
    parameters: Any,
    *,
    all_columns: Sequence[str],
    columns: Sequence[str] | None,
    condition: SqlCondition | None,
    n_rows: int | None,
    dialect: Dialect = GENERIC,
) -> NarrowedQuery:
    """Wrap ``query`` so the server sends only ``columns``, rows matching ``condition``, and
    at most ``n_rows`` rows.

    ``n_rows`` is pushed only without a condition or with an exact one (see
    :class:`~flightnb.scan.predicate.SqlCondition`), since rows the scan drops afterwards
    would leave fewer than ``n_rows``. Nothing is pushed if there is nothing to narrow.

    Examples
    --------
    >>> narrowed = narrow_query("SELECT * FROM trips", None, all_columns=["a", "b"],
    ...                         columns=["b"], condition=None, n_rows=10)
    >>> narrowed.query
    'SELECT "b" FROM (SELECT * FROM trips) AS "_flightnb_scan" LIMIT 10'
    """
    text = query.strip().rstrip(";").rstrip()
    unchanged = NarrowedQuery(query, parameters)
    if not wrappable(text):
        return unchanged
    if (
        condition is not None
        and condition.parameters
        and parameters is not None
        and not isinstance(parameters, (list, tuple))
    ):
        condition = None
    wanted = None
    if columns is not None and list(columns) != list(all_columns):
        wanted = tuple(dict.fromkeys(columns))
    limit = n_rows if n_rows is not None and (condition is None or condition.exact) else None
    if condition is not None and not condition.complete and limit is not None:
        limit = None
    if wanted is None and condition is None and limit is None:
        return unchanged
    select = ", ".join(quote_identifier(c, dialect) for c in wanted) if wanted is not None else "*"
    sql = f"SELECT {select} FROM ({text}) AS {quote_identifier(SCAN_ALIAS, dialect)}"
    bound: Any = parameters
    if condition is not None:
        sql += f" WHERE {condition.text}"
        if condition.parameters:
            bound = [*(parameters or ()), *condition.parameters]
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return NarrowedQuery(sql, bound, wanted, condition, limit)
