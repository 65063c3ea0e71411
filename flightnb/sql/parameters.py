"""Python values and data frames as Arrow: statement parameters and data to ingest.

Parameters are always sent as Arrow record batches (never written into SQL text); this
module turns what a user passes into such a batch. It does no I/O, and imports pandas or
polars never: an object is recognised as a data frame by the module that defined its type.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from flightnb.errors import FlightInvalidArgumentError

__all__ = ["Parameters", "as_record_batch_reader", "as_table", "parameters_table"]

Parameters = Any
"""A dict (named), list or tuple (one row, positional), Arrow batch/table or data frame."""

# Markers users may write in front of a parameter name: ``:name``, ``$name``, ``@name``.
_NAME_PREFIXES = ":$@"


def _frame_library(data: Any) -> str | None:
    """``"pandas"`` or ``"polars"`` for their frames, without importing either."""
    root = type(data).__module__.split(".", 1)[0]
    return root if root in ("pandas", "polars") else None


def as_table(data: Any, *, what: str = "data") -> pa.Table:
    """A pyarrow Table from a Table, RecordBatch, RecordBatchReader, pandas or polars frame.

    Objects implementing the Arrow PyCapsule stream interface work too.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    library = _frame_library(data)
    if library == "pandas":
        return pa.Table.from_pandas(data, preserve_index=False)
    if library == "polars":
        if hasattr(data, "collect") and not hasattr(data, "to_arrow"):
            data = data.collect()  # a LazyFrame
        return data.to_arrow()
    if hasattr(data, "__arrow_c_stream__"):
        return pa.table(data)
    raise FlightInvalidArgumentError(
        f"cannot use a {type(data).__name__} as {what}; pass a pyarrow Table, RecordBatch, "
        "RecordBatchReader, or a pandas or polars DataFrame"
    )


def as_record_batch_reader(data: Any) -> pa.RecordBatchReader:
    """A RecordBatchReader over ``data`` (see :func:`as_table`); readers stream as they are."""
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_batches(data.schema, [data])
    if (
        not isinstance(data, pa.Table)
        and _frame_library(data) is None
        and hasattr(data, "__arrow_c_stream__")
    ):
        return pa.RecordBatchReader.from_stream(data)
    table = as_table(data, what="data to ingest")
    return pa.RecordBatchReader.from_batches(table.schema, table.to_batches())


def _strip_marker(name: Any) -> str:
    text = str(name)
    return text[1:] if text[:1] in _NAME_PREFIXES and len(text) > 1 else text


def _value_array(name: str, value: Any, declared: pa.DataType | None) -> pa.Array:
    """A one-element array for ``value``, in the declared type when it converts safely."""
    try:
        if isinstance(value, pa.Scalar):
            array = pa.array([value.as_py()], type=value.type)
        else:
            array = pa.array([value])
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise FlightInvalidArgumentError(
            f"parameter {name!r}: cannot convert {type(value).__name__} to Arrow ({exc})"
        ) from exc
    if declared is not None and not pa.types.is_null(declared) and array.type != declared:
        # Otherwise keep the value's own type; the server decides whether it fits.
        with contextlib.suppress(pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            array = array.cast(declared)
    return array


def _declared(schema: pa.Schema | None) -> tuple[list[str], dict[str, pa.DataType]]:
    if schema is None:
        return [], {}
    return list(schema.names), {field.name: field.type for field in schema}


def _row_from_mapping(
    parameters: Mapping[Any, Any], schema: pa.Schema | None
) -> tuple[list[str], list[Any]]:
    values = {_strip_marker(key): value for key, value in parameters.items()}
    names, _ = _declared(schema)
    named = bool(names) and not all(name.isdigit() for name in names)
    if named or (names and set(values) == set(names)):
        unknown = [key for key in values if key not in names]
        missing = [name for name in names if name not in values]
        if unknown or missing:
            details = []
            if missing:
                details.append(f"missing {', '.join(missing)}")
            if unknown:
                details.append(f"unknown {', '.join(unknown)}")
            raise FlightInvalidArgumentError(
                f"the statement takes parameters {', '.join(names)} ({'; '.join(details)})"
            )
        return names, [values[name] for name in names]
    # Positional statement (or no parameter schema): the dict's order is the position order.
    return list(values), list(values.values())


def _row_from_sequence(
    parameters: Sequence[Any], schema: pa.Schema | None
) -> tuple[list[str], list[Any]]:
    names, _ = _declared(schema)
    if names and len(names) != len(parameters):
        raise FlightInvalidArgumentError(
            f"the statement takes {len(names)} parameter(s), got {len(parameters)}"
        )
    return names or [str(i + 1) for i in range(len(parameters))], list(parameters)


def parameters_table(parameters: Parameters, schema: pa.Schema | None = None) -> pa.Table | None:
    """Statement parameters as an Arrow table: one column per parameter, one row per execution.

    Parameters
    ----------
    parameters : dict, list, tuple, pyarrow Table/RecordBatch, pandas or polars DataFrame
        A dict names its values (``{"city": "Oslo"}``; a leading ``:``, ``$`` or ``@`` is
        ignored). A list or tuple gives one row of positional values. Tables and frames bind
        every row. None binds nothing.
    schema : pyarrow.Schema, optional
        The statement's parameter schema from the server. Its field order decides the column
        order of a dict; its field names name the columns; its types are used when a value
        converts to them without loss.

    Examples
    --------
    >>> parameters_table({"n": 3, "city": "Oslo"},
    ...                  pa.schema([("city", pa.null()), ("n", pa.null())])).column_names
    ['city', 'n']
    >>> parameters_table([1, "a"]).to_pylist()
    [{'1': 1, '2': 'a'}]
    """
    if parameters is None:
        return None
    if isinstance(parameters, Mapping):
        names, values = _row_from_mapping(parameters, schema)
    elif isinstance(parameters, (list, tuple)):
        names, values = _row_from_sequence(parameters, schema)
    else:
        return as_table(parameters, what="statement parameters")
    _, types = _declared(schema)
    arrays = [
        _value_array(name, value, types.get(name))
        for name, value in zip(names, values, strict=True)
    ]
    return pa.Table.from_arrays(arrays, names=names)
