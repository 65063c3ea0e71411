"""``read_pandas`` and ``read_polars`` for every reader, over the reader's own ``read_all``.

The readers differ in how they read a table (a whole flight, one stream, blocking or not);
what the rest of the stream becomes as a DataFrame, and which options are checked before
reading, is the same for all of them, so it is written once here (as ADBC's ``fetch_df`` and
``fetch_polars``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa

from flightnb.convert import (
    DEFAULT_DTYPE_BACKEND,
    DtypeBackend,
    check_pandas_options,
    check_rechunk,
    to_pandas,
    to_polars,
)

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = ["AsyncFrameReads", "FrameReads"]


class FrameReads:
    """A blocking reader's DataFrame reads, over its ``read_all``."""

    def read_all(self) -> pa.Table:
        raise NotImplementedError

    def read_pandas(
        self, *, dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND, **to_pandas_options: Any
    ) -> pd.DataFrame:
        """The rest of the stream as a pandas DataFrame (as ADBC's ``fetch_df``).

        ``dtype_backend`` is ``"numpy"`` (default), ``"numpy_nullable"`` or ``"pyarrow"``;
        other keywords go to :meth:`pyarrow.Table.to_pandas`. Checked before reading.
        """
        backend, options = check_pandas_options(dtype_backend, to_pandas_options)
        return to_pandas(self.read_all(), dtype_backend=backend, to_pandas_options=options)

    def read_polars(self, *, rechunk: bool = False) -> pl.DataFrame:
        """The rest of the stream as a polars DataFrame (as ADBC's ``fetch_polars``).

        One chunk per received batch, without copying, unless ``rechunk=True``.
        """
        check_rechunk(rechunk)
        return to_polars(self.read_all(), rechunk=rechunk)


class AsyncFrameReads:
    """An async reader's DataFrame reads, over its ``read_all``."""

    async def read_all(self) -> pa.Table:
        raise NotImplementedError

    async def read_pandas(
        self, *, dtype_backend: DtypeBackend = DEFAULT_DTYPE_BACKEND, **to_pandas_options: Any
    ) -> pd.DataFrame:
        """The rest of the stream as a pandas DataFrame (as ADBC's ``fetch_df``).

        ``dtype_backend`` is ``"numpy"`` (default), ``"numpy_nullable"`` or ``"pyarrow"``;
        other keywords go to :meth:`pyarrow.Table.to_pandas`. Checked before reading.
        """
        backend, options = check_pandas_options(dtype_backend, to_pandas_options)
        return to_pandas(await self.read_all(), dtype_backend=backend, to_pandas_options=options)

    async def read_polars(self, *, rechunk: bool = False) -> pl.DataFrame:
        """The rest of the stream as a polars DataFrame (as ADBC's ``fetch_polars``).

        One chunk per received batch, without copying, unless ``rechunk=True``.
        """
        check_rechunk(rechunk)
        return to_polars(await self.read_all(), rechunk=rechunk)
