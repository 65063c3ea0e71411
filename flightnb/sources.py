"""Deprecated: moved to :mod:`flightnb.functions.sources`, with the functions that use it.

Which client a one-call function calls is decided in :mod:`flightnb.functions.sources`, in
the package of the one-call functions. Each name of this module still resolves here, the
very same object, with a :class:`DeprecationWarning` naming its new place; importing the
module alone does not warn. This module goes in the next release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flightnb._deprecated import moved_names

__all__ = ["async_client", "blocking_client", "open_async", "open_blocking"]

if TYPE_CHECKING:
    from flightnb.functions.sources import AsyncSource as AsyncSource
    from flightnb.functions.sources import Source as Source
    from flightnb.functions.sources import (
        async_client,
        blocking_client,
        open_async,
        open_blocking,
    )
else:
    __getattr__ = moved_names(__name__, dict.fromkeys(__all__, "flightnb.functions.sources"))
