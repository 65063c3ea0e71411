"""Python values as statement parameters: the Arrow batch a statement is bound to.

Parameters are always sent as Arrow record batches (never written into SQL text); this
module binds what a user passes (a dict, a list, a table or a data frame) to the statement's
parameter schema. It does no I/O. Tables and frames, and data to ingest, are turned into Arrow
by :mod:`flightnb.convert` (re-exported here as :func:`as_table` and
:func:`as_record_batch_reader`), which imports pandas or polars never.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from flightnb.convert import as_record_batch_reader, as_table
from flightnb.errors import FlightArgumentError, FlightArgumentTypeError

__all__ = ["Parameters", "as_record_batch_reader", "as_table", "parameters_table"]

Parameters = Any
"""A dict (named), list or tuple (one row, positional), Arrow batch/table or data frame."""

# Markers users may write in front of a parameter name: ``:name``, ``$name``, ``@name``.
_NAME_PREFIXES = ":$@"


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
        raise FlightArgumentTypeError(
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
            raise FlightArgumentError(
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
        raise FlightArgumentError(
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
