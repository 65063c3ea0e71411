"""pandas integration: ``flightnb.pandas.read_flight`` and the ``DataFrame.flight`` accessor.

Importing this module, and nothing else, registers the accessor (pandas' own extension API,
``pd.api.extensions.register_dataframe_accessor``): converting a table to pandas does not, and
``import flightnb`` alone never imports pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import pandas as pd

from flightnb.convert import DEFAULT_DTYPE_BACKEND, DtypeBackend
from flightnb.functions.read import read_flight as _read_flight
from flightnb.functions.read import read_flight_async as _read_flight_async
from flightnb.functions.write import PutSummary, exchange_flight, write_flight

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from flightnb.client.operations import ExchangeResult
    from flightnb.functions.sources import AsyncSource, Source
    from flightnb.functions.write import WriteSource

__all__ = ["FlightAccessor", "read_flight", "read_flight_async"]


def read_flight(
    source: Source,
    *,
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: dict[str, Any] | None = None,
    **read_options: Any,
) -> pd.DataFrame:
    """Read a flight into a pandas DataFrame: :func:`flightnb.read_flight` with ``to="pandas"``.

    Parameters
    ----------
    source
        What :func:`flightnb.read_flight` takes, with its keyword arguments in
        ``read_options`` (``ticket=``, ``path=``, ``sql=``, ``progress=``, ...).
    dtype_backend : {"numpy", "numpy_nullable", "pyarrow"}, default "numpy"
        NumPy dtypes, pandas' nullable dtypes, or ``pd.ArrowDtype`` columns that keep the
        received Arrow memory as it is (no copy). Checked before anything is sent.
    to_pandas_options : dict, optional
        Passed on to :meth:`pyarrow.Table.to_pandas`.

    Raises
    ------
    flightnb.convert.ConversionArgumentError
        ``dtype_backend`` is not one of the choices (a ValueError too).

    Examples
    --------
    >>> frame = read_flight("grpc://localhost:8815", path="trips",
    ...                     dtype_backend="pyarrow")
    >>> frame["trip_id"].dtype
    int64[pyarrow]
    """
    return _read_flight(
        source,
        to="pandas",
        dtype_backend=dtype_backend,
        to_pandas_options=to_pandas_options,
        **read_options,
    )


async def read_flight_async(
    source: AsyncSource,
    *,
    dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND,
    to_pandas_options: dict[str, Any] | None = None,
    **read_options: Any,
) -> pd.DataFrame:
    """Async twin of :func:`read_flight`."""
    return await _read_flight_async(
        source,
        to="pandas",
        dtype_backend=dtype_backend,
        to_pandas_options=to_pandas_options,
        **read_options,
    )


@pd.api.extensions.register_dataframe_accessor("flight")
class FlightAccessor:
    """``df.flight``: send this DataFrame to a Flight service.

    Examples
    --------
    >>> import flightnb.pandas
    >>> df = pd.DataFrame({"station_id": [1, 2], "stars": [4.5, 3.0]})
    >>> df.flight.put("grpc://localhost:8815", path="ratings", progress=False).rows
    2

    The embedded server has no DoExchange; a server that scores frames would answer:

    >>> scored = df.flight.exchange("grpc://localhost:8815", command="score")  # doctest: +SKIP
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def put(
        self, source: WriteSource, *, path: str | Sequence[str] | None = None, **options: Any
    ) -> PutSummary:
        """Upload with DoPut (with progress); returns what was sent and what the server stored.

        See :func:`flightnb.functions.write.write_flight` (``path="t?mode=append"`` on the embedded
        server appends to an existing table).
        """
        return write_flight(source, self._frame, path=path, **options)

    @overload
    def exchange(
        self, source: WriteSource, *, to: Literal["pandas"] = "pandas", **options: Any
    ) -> pd.DataFrame: ...

    @overload
    def exchange(
        self, source: WriteSource, *, to: Literal["arrow"], **options: Any
    ) -> pa.Table: ...

    @overload
    def exchange(
        self, source: WriteSource, *, to: Literal["polars"], **options: Any
    ) -> pl.DataFrame: ...

    @overload
    def exchange(self, source: WriteSource, *, to: str, **options: Any) -> ExchangeResult: ...

    def exchange(
        self, source: WriteSource, *, to: str = "pandas", **options: Any
    ) -> ExchangeResult:
        """Send over DoExchange; returns the server's answer (a DataFrame by default)."""
        return exchange_flight(source, self._frame, to=to, **options)
