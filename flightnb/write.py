"""Deprecated: the one-call uploads and exchanges moved to :mod:`flightnb.functions.write`.

The one-call functions now live together in the package :mod:`flightnb.functions` (the most
used also at the top level: ``flightnb.write_flight``). Each name of this module still
resolves here, the very same object, with a :class:`DeprecationWarning` naming its new
place; importing the module alone does not warn. This module goes in the next release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb._deprecated import moved_names

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "PutSummary",
    "as_arrow_table",
    "exchange_flight",
    "exchange_flight_async",
    "write_flight",
    "write_flight_async",
]

if TYPE_CHECKING:
    from flightnb.functions.write import (
        DEFAULT_CHUNK_ROWS,
        PutSummary,
        as_arrow_table,
        exchange_flight,
        exchange_flight_async,
        write_flight,
        write_flight_async,
    )
    from flightnb.functions.write import WriteSource as WriteSource
else:
    __getattr__ = moved_names(__name__, dict.fromkeys(__all__, "flightnb.functions.write"))
