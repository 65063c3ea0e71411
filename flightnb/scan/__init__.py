"""Lazy polars scans of Flight and Flight SQL sources, with pushdown.

:func:`flightnb.polars.scan_flight` is the entry point. :mod:`flightnb.scan.predicate`
translates polars predicates to SQL and :mod:`flightnb.scan.query` narrows a Flight SQL query;
both are pure (no I/O). :mod:`flightnb.scan.source` is the polars IO source that reads.
Nothing here is imported by ``import flightnb``.
"""

__all__: list[str] = []
