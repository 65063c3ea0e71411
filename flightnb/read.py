"""Deprecated: the one-call reads moved to :mod:`flightnb.functions.read`.

The one-call functions now live together in the package :mod:`flightnb.functions` (the most
used also at the top level: ``flightnb.read_flight``). Each name of this module still
resolves here, the very same object, with a :class:`DeprecationWarning` naming its new
place; importing the module alone does not warn. This module goes in the next release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb._deprecated import moved_names

__all__ = ["read_flight", "read_flight_async"]

if TYPE_CHECKING:
    from flightnb.functions.read import read_flight, read_flight_async
else:
    __getattr__ = moved_names(__name__, dict.fromkeys(__all__, "flightnb.functions.read"))
