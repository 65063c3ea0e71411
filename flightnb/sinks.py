"""Deprecated: the sinks moved to :mod:`flightnb.functions.sinks`.

The one-call functions now live together in the package :mod:`flightnb.functions` (the most
used also at the top level: ``flightnb.write_parquet``). Each name of this module still
resolves here, the very same object, with a :class:`DeprecationWarning` naming its new
place; importing the module alone does not warn. This module goes in the next release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb._deprecated import moved_names

__all__ = [
    "MANIFEST_NAME",
    "SINK_SUFFIXES",
    "FlightSinkError",
    "WriteSummary",
    "check_sink",
    "write_dataset",
    "write_ipc",
    "write_parquet",
    "write_sink",
]

if TYPE_CHECKING:
    from flightnb.functions.sinks import (
        MANIFEST_NAME,
        SINK_SUFFIXES,
        FlightSinkError,
        WriteSummary,
        check_sink,
        write_dataset,
        write_ipc,
        write_parquet,
        write_sink,
    )
else:
    __getattr__ = moved_names(__name__, dict.fromkeys(__all__, "flightnb.functions.sinks"))
