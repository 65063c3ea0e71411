"""Turning an Arrow Table into what the user asked for: arrow, pandas or polars."""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa

from flightnb.errors import FlightInvalidArgumentError

Target = Literal["arrow", "pandas", "polars"]
TARGETS: tuple[str, ...] = ("arrow", "pandas", "polars")


def check_target(to: str) -> Target:
    """Validate a ``to=`` argument early, before any network traffic."""
    if to not in TARGETS:
        raise FlightInvalidArgumentError(f"to={to!r} is not one of {', '.join(map(repr, TARGETS))}")
    return to  # type: ignore[return-value]


def convert_table(table: pa.Table, to: str, **options: Any) -> Any:
    """``table`` as a pyarrow Table, pandas DataFrame or polars DataFrame.

    polars gets the Arrow buffers without a copy (they are 64-byte aligned); pandas options
    such as ``dtype_backend="pyarrow"`` are passed to ``Table.to_pandas``.
    """
    target = check_target(to)
    if target == "arrow":
        return table
    register_accessors()
    if target == "pandas":
        dtype_backend = options.pop("dtype_backend", None)
        if dtype_backend == "pyarrow":
            import pandas as pd

            return table.to_pandas(types_mapper=pd.ArrowDtype, **options)
        return table.to_pandas(**options)
    import polars as pl

    return pl.from_arrow(table, **options)


def register_accessors() -> None:
    """Register ``DataFrame.flight`` for pandas and polars if they are already imported.

    Never imports pandas or polars itself, so it is cheap to call from any entry point.
    """
    import importlib
    import sys

    for library in ("pandas", "polars"):
        if library in sys.modules:
            importlib.import_module(f"flightnb.{library}")
