"""Every conversion between Arrow and pandas or polars, in one place.

Reads (``read_flight(..., to=...)``, :mod:`flightnb.pandas`, :mod:`flightnb.polars`, the
magic's preview) turn a received :class:`pyarrow.Table` into what the user asked for with
:func:`convert_table`, :func:`to_pandas` and :func:`to_polars`. Uploads, exchanges, statement
parameters and bulk ingest turn what the user passes into Arrow with :func:`as_table` and
:func:`as_record_batch_reader`. This module decides chunks, dtype backends and copies; the
rules are written out in ``docs/dataframes.md``.

pandas and polars are imported only by the function that converts to them; a frame passed in
is recognised by the module that defined its type, so ``import flightnb`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, overload

import pyarrow as pa

from flightnb.errors import FlightArgumentError, FlightArgumentTypeError

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

__all__ = [
    "DEFAULT_DTYPE_BACKEND",
    "DTYPE_BACKENDS",
    "TARGETS",
    "ConversionArgumentError",
    "DtypeBackend",
    "Target",
    "UnsupportedTypeError",
    "as_record_batch_reader",
    "as_table",
    "check_dtype_backend",
    "check_pandas_options",
    "check_polars_types",
    "check_read_target",
    "check_rechunk",
    "check_target",
    "convert_table",
    "frame_library",
    "preview",
    "to_pandas",
    "to_polars",
]

Target = Literal["arrow", "pandas", "polars"]
TARGETS: tuple[Target, ...] = ("arrow", "pandas", "polars")

DtypeBackend = Literal["numpy", "numpy_nullable", "pyarrow"]
DTYPE_BACKENDS: tuple[DtypeBackend, ...] = ("numpy", "numpy_nullable", "pyarrow")
#: The pandas dtypes every read gives unless asked otherwise: pandas' own default (what
#: ``pyarrow.Table.to_pandas`` and ADBC's ``fetch_df`` return), the same on every path.
DEFAULT_DTYPE_BACKEND: DtypeBackend = "numpy"

_Choice = TypeVar("_Choice", bound=str)


class ConversionArgumentError(FlightArgumentError):
    """A conversion argument is not one of its choices (``to=``, ``dtype_backend=``, ...).

    It is a :class:`~flightnb.errors.FlightArgumentError`, like every other argument
    flightnb refuses, and so a :class:`ValueError`, as pandas and polars raise for the same
    mistake; catch either. It is raised before any network traffic.
    """


def _check_choice(name: str, value: object, choices: Sequence[_Choice]) -> _Choice:
    for choice in choices:
        if value == choice and isinstance(value, str):
            return choice
    raise ConversionArgumentError(f"{name}={value!r} is not one of {', '.join(map(repr, choices))}")


def check_target(to: object) -> Target:
    """Validate a ``to=`` argument (``"arrow"``, ``"pandas"`` or ``"polars"``).

    Raises
    ------
    ConversionArgumentError
        For any other value; it is a ValueError and a FlightArgumentError.

    Examples
    --------
    >>> check_target("polars")
    'polars'
    """
    return _check_choice("to", to, TARGETS)


def check_read_target(to: object) -> Target | Literal["reader"]:
    """Validate the ``to=`` of a read: a conversion target or ``"reader"`` (a stream).

    Raises
    ------
    ConversionArgumentError
        For any other value, naming all four choices.

    Examples
    --------
    >>> check_read_target("reader")
    'reader'
    """
    return _check_choice("to", to, (*TARGETS, "reader"))


def check_dtype_backend(dtype_backend: object) -> DtypeBackend:
    """Validate a pandas ``dtype_backend=`` (``"numpy"``, ``"numpy_nullable"``, ``"pyarrow"``).

    Raises
    ------
    ConversionArgumentError
        For any other value; it is a ValueError and a FlightArgumentError.

    Examples
    --------
    >>> check_dtype_backend("pyarrow")
    'pyarrow'
    """
    return _check_choice("dtype_backend", dtype_backend, DTYPE_BACKENDS)


def check_rechunk(rechunk: object) -> bool:
    """Validate a polars ``rechunk=`` (True or False; a truthy object is refused)."""
    if not isinstance(rechunk, bool):
        raise ConversionArgumentError(f"rechunk={rechunk!r} is not one of True, False")
    return rechunk


def check_pandas_options(
    dtype_backend: object, to_pandas_options: Mapping[str, Any] | None
) -> tuple[DtypeBackend, dict[str, Any]]:
    """Validate the pandas arguments of a read before it starts; returns them checked."""
    backend = check_dtype_backend(dtype_backend)
    options = dict(to_pandas_options or {})
    if backend != "numpy" and "types_mapper" in options:
        raise ConversionArgumentError(
            f"dtype_backend={backend!r} chooses the column types; drop types_mapper from "
            "to_pandas_options, or use dtype_backend='numpy'"
        )
    return backend, options


@overload
def convert_table(
    table: pa.Table,
    to: Literal["arrow"],
    *,
    dtype_backend: str = "numpy",
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
) -> pa.Table: ...


@overload
def convert_table(
    table: pa.Table,
    to: Literal["pandas"],
    *,
    dtype_backend: str = "numpy",
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
) -> pd.DataFrame: ...


@overload
def convert_table(
    table: pa.Table,
    to: Literal["polars"],
    *,
    dtype_backend: str = "numpy",
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
) -> pl.DataFrame: ...


@overload
def convert_table(
    table: pa.Table,
    to: str,
    *,
    dtype_backend: str = "numpy",
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
) -> pa.Table | pd.DataFrame | pl.DataFrame: ...


def convert_table(
    table: pa.Table,
    to: str,
    *,
    dtype_backend: str = "numpy",
    to_pandas_options: Mapping[str, Any] | None = None,
    rechunk: bool = False,
) -> pa.Table | pd.DataFrame | pl.DataFrame:
    """``table`` as a pyarrow Table, a pandas DataFrame or a polars DataFrame.

    Parameters
    ----------
    table : pyarrow.Table
        What was received; its chunks are the batches the server sent.
    to : {"arrow", "pandas", "polars"}
        ``"arrow"`` returns ``table`` itself.
    dtype_backend, to_pandas_options
        For ``to="pandas"``; see :func:`to_pandas`.
    rechunk : bool, default False
        For ``to="polars"``; see :func:`to_polars`.

    Examples
    --------
    >>> table = pa.table({"n": [1, 2]})
    >>> convert_table(table, "arrow") is table
    True
    """
    target = check_target(to)
    if target == "pandas":
        return to_pandas(table, dtype_backend=dtype_backend, to_pandas_options=to_pandas_options)
    if target == "polars":
        return to_polars(table, rechunk=rechunk)
    return table


def to_pandas(
    table: pa.Table,
    *,
    dtype_backend: str = "numpy",
    to_pandas_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """``table`` as a pandas DataFrame, with the column types of ``dtype_backend``.

    Parameters
    ----------
    table : pyarrow.Table
    dtype_backend : {"numpy", "numpy_nullable", "pyarrow"}, default "numpy"
        ``"numpy"``: the types ``Table.to_pandas()`` chooses (the columns are copied into
        NumPy blocks). ``"numpy_nullable"``: pandas' nullable extension types (``Int64``,
        ``boolean``, ``string``, ...) where one exists (copied). ``"pyarrow"``:
        ``pd.ArrowDtype`` columns that hold the received Arrow chunks without a copy.
    to_pandas_options : dict, optional
        Passed on to :meth:`pyarrow.Table.to_pandas` (``types_mapper`` only with ``"numpy"``).
    """
    backend, options = check_pandas_options(dtype_backend, to_pandas_options)
    import pandas as pd

    if backend == "pyarrow":
        options["types_mapper"] = pd.ArrowDtype
    elif backend == "numpy_nullable":
        options["types_mapper"] = _nullable_types().get
    return table.to_pandas(**options)


def _nullable_types() -> dict[pa.DataType, Any]:
    """Arrow types that have a pandas nullable extension type, and that type."""
    import pandas as pd

    string = pd.StringDtype()
    return {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
        pa.float32(): pd.Float32Dtype(),
        pa.float64(): pd.Float64Dtype(),
        pa.string(): string,
        pa.large_string(): string,
        pa.string_view(): string,
    }


def to_polars(table: pa.Table, *, rechunk: bool = False) -> pl.DataFrame:
    """``table`` as a polars DataFrame that keeps the received chunks.

    Parameters
    ----------
    table : pyarrow.Table
    rechunk : bool, default False
        False keeps one polars chunk per received batch, and polars adopts the (64-byte
        aligned) numeric, boolean and temporal buffers without a copy. True makes every
        column one contiguous chunk, which copies everything.

    Notes
    -----
    ``pl.from_arrow`` rechunks by default on polars 1.x and not on 2.x; flightnb always
    passes ``rechunk`` itself so the result is the same on every supported polars.
    """
    wanted = check_rechunk(rechunk)
    check_polars_types(table.schema)
    import polars as pl

    frame = pl.from_arrow(table, rechunk=wanted)
    assert isinstance(frame, pl.DataFrame)  # a Table always becomes a DataFrame
    return frame


class UnsupportedTypeError(ConversionArgumentError):
    """A column's Arrow type has no counterpart in the library asked for (``to="polars"``).

    Raised before the conversion is tried (polars panics on some types instead of raising).
    ``column`` and ``type`` name the first such column.
    """

    def __init__(self, column: str, type: pa.DataType, library: str) -> None:
        super().__init__(
            f"column {column!r} has type {type}, which {library} cannot hold; "
            "read it with to='arrow' or to='pandas'"
        )
        self.column = column
        self.type = type


def _polars_cannot_hold(data_type: pa.DataType) -> bool:
    # polars' decimals are 128-bit: a decimal256 column makes it panic (a Rust backtrace
    # printed into the cell), whatever its precision.
    if pa.types.is_decimal256(data_type):
        return True
    if pa.types.is_dictionary(data_type):
        return _polars_cannot_hold(data_type.value_type)
    return any(_polars_cannot_hold(data_type.field(i).type) for i in range(data_type.num_fields))


def check_polars_types(schema: pa.Schema) -> None:
    """UnsupportedTypeError naming the first column polars cannot take, if any."""
    for field in schema:
        if _polars_cannot_hold(field.type):
            raise UnsupportedTypeError(field.name, field.type, "polars")


def frame_library(data: object) -> Literal["pandas", "polars"] | None:
    """``"pandas"`` or ``"polars"`` for their frames (and LazyFrames), without importing either.

    Examples
    --------
    >>> frame_library(pa.table({"n": [1]})) is None
    True
    """
    root = type(data).__module__.split(".", 1)[0]
    if root == "pandas":
        return "pandas"
    if root == "polars":
        return "polars"
    return None


def as_table(data: Any, *, what: str = "data") -> pa.Table:
    """A pyarrow Table from a Table, RecordBatch, RecordBatchReader, pandas or polars frame.

    A pandas frame is converted with ``pa.Table.from_pandas(preserve_index=False)`` (a copy,
    except of ``pd.ArrowDtype`` columns); a polars frame with ``DataFrame.to_arrow()``, which
    keeps its chunks and shares its buffers (strings become ``large_string``); a LazyFrame
    is collected first. Objects with the Arrow PyCapsule stream interface
    (``__arrow_c_stream__``) work too.

    Parameters
    ----------
    data : Table, RecordBatch, RecordBatchReader, pandas or polars DataFrame, ...
    what : str
        Names ``data`` in the error message (``"data to upload"``, ``"statement parameters"``).

    Raises
    ------
    FlightArgumentTypeError
        For anything else.

    Examples
    --------
    >>> as_table(pa.record_batch({"n": [1, 2]})).num_rows
    2
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    library = frame_library(data)
    if library == "pandas" and hasattr(data, "columns"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if library == "polars":
        if hasattr(data, "collect") and not hasattr(data, "to_arrow"):
            data = data.collect()  # a LazyFrame
        table = data.to_arrow() if hasattr(data, "to_arrow") else None
        if isinstance(table, pa.Table):  # not a Series, whose to_arrow is an Array
            return table
    elif hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise FlightArgumentTypeError(
        f"cannot use a {type(data).__name__} as {what}; pass a pyarrow Table, RecordBatch, "
        "RecordBatchReader, or a pandas or polars DataFrame"
    )


def as_record_batch_reader(data: Any, *, what: str = "data to ingest") -> pa.RecordBatchReader:
    """A RecordBatchReader over ``data`` (anything :func:`as_table` takes).

    Readers are returned as they are, and other objects with ``__arrow_c_stream__`` are
    streamed without being read into memory first; frames become a table first.

    Examples
    --------
    >>> as_record_batch_reader(pa.table({"n": [1, 2]})).read_all().num_rows
    2
    """
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    if (
        not isinstance(data, pa.Table)
        and frame_library(data) is None
        and hasattr(data, "__arrow_c_stream__")
    ):
        return pa.RecordBatchReader.from_stream(data)
    table = as_table(data, what=what)
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def preview(data: Any, limit: int) -> tuple[int, Any] | None:
    """The row count and the first ``limit`` rows of a table or frame, for display.

    An Arrow table's rows come back as a pandas DataFrame when pandas is installed (it renders
    better in a notebook), else as a Table; a frame's rows stay a frame of its library.
    None when ``data`` is neither.
    """
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        head = data.slice(0, limit)
        if isinstance(head, pa.RecordBatch):
            head = pa.Table.from_batches([head])
        if importlib.util.find_spec("pandas") is not None:
            head = to_pandas(head)
        return data.num_rows, head
    if frame_library(data) is not None and hasattr(data, "shape") and hasattr(data, "head"):
        return int(data.shape[0]), data.head(limit)
    return None
