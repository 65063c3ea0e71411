"""Progress displays for reads. Counting lives in the readers; this package only renders."""

from __future__ import annotations

from flightnb.client.observer import TransferObserver
from flightnb.progress.text import TextProgress

__all__ = ["TextProgress", "TransferObserver", "auto_observer"]


def auto_observer(progress: bool | None) -> TransferObserver | None:
    """The display for ``progress=``: None picks automatically, True forces, False disables."""
    if progress is False:
        return None
    return TextProgress(delay=0.0 if progress else 0.5)
