"""Deprecated: the one-call streaming reads moved to :mod:`flightnb.functions.streaming`.

The one-call functions now live together in the package :mod:`flightnb.functions` (the most
used also at the top level: ``flightnb.open_flight``). Each name of this module still
resolves here, the very same object, with a :class:`DeprecationWarning` naming its new
place; importing the module alone does not warn. ``stream_options``, which moved to
:mod:`flightnb.client.operations` before, answers here too. This module goes in the next
release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb._deprecated import moved_names

__all__ = [
    "Chooser",
    "client_for",
    "open_flight",
    "open_flight_async",
    "plan_and_stream",
    "resolve_source",
]

if TYPE_CHECKING:
    from flightnb.client.operations import stream_options as stream_options
    from flightnb.functions.streaming import (
        Chooser,
        client_for,
        open_flight,
        open_flight_async,
        plan_and_stream,
        resolve_source,
    )
else:
    __getattr__ = moved_names(
        __name__,
        {
            **dict.fromkeys(__all__, "flightnb.functions.streaming"),
            "stream_options": "flightnb.client.operations",
        },
    )
