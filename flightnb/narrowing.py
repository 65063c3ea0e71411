"""Large Arrow types (64-bit offsets) narrowed to their 32-bit forms before an upload.

polars exports every string as ``large_string`` (and binaries and lists as their large
forms), and pandas' pyarrow-backed strings are ``large_string`` too. Many Flight servers
refuse those: Deephaven answers ``Schema did not include deephaven:type metadata for field
of type LargeUtf8``. The 32-bit forms hold the same values as long as no array has more
than 2 GiB of data (or 2**31 list items), so an upload narrows what fits and leaves the
rest as it is. Only the offsets are rewritten; the data buffers are shared, not copied.

Examples
--------
>>> import pyarrow as pa
>>> result = narrow_large_types(pa.table({"s": pa.array(["a"], pa.large_string())}))
>>> result.table.schema.field("s").type, result.narrowed
(DataType(string), ('s',))
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

__all__ = ["Narrowing", "narrow_large_types", "narrowed_type"]


@dataclass(frozen=True)
class Narrowing:
    """A table with its large types narrowed where the data fits.

    Attributes
    ----------
    table : pyarrow.Table
        The table to send.
    narrowed : tuple of str
        Columns whose type (or a type nested in it) became its 32-bit form.
    kept : tuple of str
        Columns with a large type whose data does not fit 32-bit offsets: left as they are.
    """

    table: pa.Table
    narrowed: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


def _narrowed_field(field: pa.Field) -> pa.Field:
    return field.with_type(narrowed_type(field.type))


def narrowed_type(type_: pa.DataType) -> pa.DataType:
    """``type_`` with every large string, binary and list in it, at any depth, made 32-bit.

    Examples
    --------
    >>> narrowed_type(pa.large_list(pa.large_string()))
    ListType(list<item: string>)
    >>> narrowed_type(pa.int64())
    DataType(int64)
    """
    if pa.types.is_large_string(type_):
        return pa.string()
    if pa.types.is_large_binary(type_):
        return pa.binary()
    if pa.types.is_large_list(type_) or pa.types.is_list(type_):
        return pa.list_(_narrowed_field(type_.value_field))
    if pa.types.is_fixed_size_list(type_):
        return pa.list_(_narrowed_field(type_.value_field), type_.list_size)
    if pa.types.is_map(type_):
        return pa.map_(
            _narrowed_field(type_.key_field),
            _narrowed_field(type_.item_field),
            type_.keys_sorted,
        )
    if pa.types.is_struct(type_):
        return pa.struct([_narrowed_field(type_.field(i)) for i in range(type_.num_fields)])
    if pa.types.is_dictionary(type_):
        return pa.dictionary(type_.index_type, narrowed_type(type_.value_type), type_.ordered)
    return type_


def narrow_large_types(table: pa.Table) -> Narrowing:
    """Narrow the large types of ``table`` column by column, where the data fits.

    A column whose data does not fit 32-bit offsets (a chunk with more than 2 GiB of string
    data, say) keeps its type and is named in :attr:`Narrowing.kept`.
    """
    fields: list[pa.Field] = []
    columns: list[pa.ChunkedArray] = []
    narrowed: list[str] = []
    kept: list[str] = []
    for field, column in zip(table.schema, table.columns, strict=True):
        target = narrowed_type(field.type)
        if target != field.type:
            try:
                column = column.cast(target)
                field = field.with_type(target)
                narrowed.append(field.name)
            except (pa.ArrowInvalid, pa.ArrowCapacityError, pa.ArrowNotImplementedError):
                kept.append(field.name)
        fields.append(field)
        columns.append(column)
    if not narrowed:
        return Narrowing(table, (), tuple(kept))
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return Narrowing(pa.Table.from_arrays(columns, schema=schema), tuple(narrowed), tuple(kept))
