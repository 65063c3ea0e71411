"""pandas integration: ``flightnb.pandas.read_flight`` and the ``DataFrame.flight`` accessor.

Importing this module registers the accessor (pandas' own extension API); ``import flightnb``
alone never imports pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from flightnb.read import read_flight as _read_flight
from flightnb.read import read_flight_async as _read_flight_async
from flightnb.write import exchange_flight, write_flight

__all__ = ["FlightAccessor", "read_flight", "read_flight_async"]

DtypeBackend = Literal["numpy", "numpy_nullable", "pyarrow"]


def _to_pandas(table: Any, dtype_backend: DtypeBackend, options: dict[str, Any]) -> pd.DataFrame:
    if dtype_backend == "pyarrow":
        return table.to_pandas(types_mapper=pd.ArrowDtype, **options)
    if dtype_backend == "numpy_nullable":
        from pandas.api.types import pandas_dtype

        mapping = {pa_type: pandas_dtype(name) for pa_type, name in _NULLABLE_TYPES().items()}
        return table.to_pandas(types_mapper=mapping.get, **options)
    return table.to_pandas(**options)


def _NULLABLE_TYPES() -> dict[Any, str]:
    import pyarrow as pa

    return {
        pa.int8(): "Int8",
        pa.int16(): "Int16",
        pa.int32(): "Int32",
        pa.int64(): "Int64",
        pa.uint8(): "UInt8",
        pa.uint16(): "UInt16",
        pa.uint32(): "UInt32",
        pa.uint64(): "UInt64",
        pa.bool_(): "boolean",
        pa.float32(): "Float32",
        pa.float64(): "Float64",
        pa.string(): "string",
        pa.large_string(): "string",
    }


def read_flight(
    source: Any,
    *,
    dtype_backend: DtypeBackend = "numpy",
    to_pandas_options: dict[str, Any] | None = None,
    **read_options: Any,
) -> pd.DataFrame:
    """Read a flight into a pandas DataFrame.

    Takes :func:`flightnb.read_flight`'s arguments (``ticket=``, ``path=``, ``progress=``...).
    ``dtype_backend`` picks NumPy dtypes (default), pandas' nullable dtypes, or
    ``pd.ArrowDtype`` columns that keep the Arrow memory as is.
    """
    table = _read_flight(source, to="arrow", **read_options)
    return _to_pandas(table, dtype_backend, to_pandas_options or {})


async def read_flight_async(
    source: Any,
    *,
    dtype_backend: DtypeBackend = "numpy",
    to_pandas_options: dict[str, Any] | None = None,
    **read_options: Any,
) -> pd.DataFrame:
    """Async twin of :func:`read_flight`."""
    table = await _read_flight_async(source, to="arrow", **read_options)
    return _to_pandas(table, dtype_backend, to_pandas_options or {})


@pd.api.extensions.register_dataframe_accessor("flight")
class FlightAccessor:
    """``df.flight``: send this DataFrame to a Flight service.

    Examples
    --------
    >>> df.flight.put("grpc://localhost:8815", path="uploads/trips")  # doctest: +SKIP
    >>> scored = df.flight.exchange("grpc://localhost:8815", command="score")  # doctest: +SKIP
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def put(
        self, source: Any, *, path: str | Sequence[str] | None = None, **options: Any
    ) -> list[bytes]:
        """Upload with DoPut (with progress); returns the server's PutResult metadata."""
        return write_flight(source, self._frame, path=path, **options)

    def exchange(self, source: Any, *, to: str = "pandas", **options: Any) -> Any:
        """Send over DoExchange; returns the server's answer (a DataFrame by default)."""
        return exchange_flight(source, self._frame, to=to, **options)
