"""A corpus of Arrow tables covering every type pyarrow can write over IPC.

``CASES`` is a list of ``(name, table)`` pairs. Each table is small (a handful of rows, with
nulls where the type allows them) so that round-tripping the whole corpus stays fast. Besides
the plain cases there are:

* ``sliced/<name>``: the same table sliced so every column has a non-zero offset;
* ``all_null/<name>``: the same schema with every value null (where the type has nulls);
* :func:`multi_batch` to cut any table into several record batches;
* :func:`dictionary_replacement_batches` and :func:`dictionary_delta_batches`, whose
  dictionaries change from batch to batch so that pyarrow's writer emits replacement
  dictionaries, or delta dictionaries with ``IpcWriteOptions(emit_dictionary_deltas=True)``.

Types pyarrow cannot write, and so are missing on purpose:

* ``interval[day_time]`` and ``interval[month]``: pyarrow has no factory for them, and even when
  the type is imported through the C data interface, ``pyarrow.Array`` cannot wrap such an
  array (``get_array_class_from_type`` raises ``KeyError``), so no table can hold one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Callable
from decimal import Decimal

import numpy as np
import pyarrow as pa

__all__ = [
    "BASE_CASES",
    "CASES",
    "CUSTOM_EXTENSION",
    "RangeType",
    "case",
    "dictionary_delta_batches",
    "dictionary_replacement_batches",
    "multi_batch",
]

N = 6  # rows of every base case


# --------------------------------------------------------------------------------------------
# A custom extension type with serialized parameters
# --------------------------------------------------------------------------------------------


class RangeType(pa.ExtensionType):
    """An extension type over ``struct<lo, hi>`` whose unit and closedness are parameters.

    The parameters travel as JSON in the ``ARROW:extension:metadata`` field metadata, so a
    reader that has this class registered gets them back.
    """

    def __init__(self, unit: str = "s", closed: str = "left") -> None:
        self.unit = unit
        self.closed = closed
        storage = pa.struct([pa.field("lo", pa.int64()), pa.field("hi", pa.int64())])
        super().__init__(storage, "flightnb.tests.range")

    def __arrow_ext_serialize__(self) -> bytes:
        return json.dumps({"unit": self.unit, "closed": self.closed}).encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> RangeType:
        params = json.loads(serialized)
        return cls(params["unit"], params["closed"])


def _register_custom_extension() -> RangeType:
    instance = RangeType("ms", "both")
    # Already registered when the module is imported twice (e.g. under two names).
    with contextlib.suppress(pa.ArrowKeyError):
        pa.register_extension_type(instance)
    return instance


CUSTOM_EXTENSION = _register_custom_extension()


# --------------------------------------------------------------------------------------------
# Base cases: one table per family of types
# --------------------------------------------------------------------------------------------

_LONG = "a value longer than twelve bytes, so view types spill to variadic buffers"


def _ints() -> pa.Table:
    cols = {}
    for bits in (8, 16, 32, 64):
        signed = getattr(pa, f"int{bits}")()
        unsigned = getattr(pa, f"uint{bits}")()
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
        cols[f"int{bits}"] = pa.array([lo, -1, None, 0, 1, hi], signed)
        cols[f"uint{bits}"] = pa.array([0, 1, None, 7, 2**bits - 2, 2**bits - 1], unsigned)
    return pa.table(cols)


def _floats() -> pa.Table:
    return pa.table(
        {
            "float16": pa.array(
                np.array([0.5, -1.0, 0.0, np.inf, -np.inf, 65504.0], dtype=np.float16),
                mask=np.array([False, False, True, False, False, False]),
            ),
            "float32": pa.array([1.5, None, -0.0, float("inf"), 3.4e38, 1e-45], pa.float32()),
            "float64": pa.array([1.5, None, -0.0, float("-inf"), 1.7e308, 5e-324], pa.float64()),
        }
    )


def _bool_and_null() -> pa.Table:
    return pa.table(
        {
            "bool": pa.array([True, False, None, True, True, False]),
            "null": pa.nulls(N),
        }
    )


def _decimals() -> pa.Table:
    return pa.table(
        {
            "decimal32": pa.array(
                [Decimal("12345.67"), None, Decimal("-0.01"), Decimal(0), Decimal(1), Decimal(2)],
                pa.decimal32(7, 2),
            ),
            "decimal64": pa.array(
                [
                    Decimal("123456789012.345"),
                    None,
                    Decimal("-1.5"),
                    Decimal(0),
                    Decimal(1),
                    Decimal(2),
                ],
                pa.decimal64(15, 3),
            ),
            "decimal128": pa.array(
                [
                    Decimal("1234567890123456789012345678.0123456789"),
                    None,
                    Decimal("-1e-10"),
                    Decimal(0),
                    Decimal(1),
                    Decimal(-1),
                ],
                pa.decimal128(38, 10),
            ),
            "decimal256": pa.array(
                [
                    Decimal("9" * 56 + "." + "9" * 20),
                    None,
                    Decimal("-1e-20"),
                    Decimal(0),
                    Decimal(1),
                    Decimal(-1),
                ],
                pa.decimal256(76, 20),
            ),
        }
    )


def _temporal() -> pa.Table:
    when = dt.datetime(2024, 2, 29, 23, 59, 58, 123456)
    stamps = [
        when,
        None,
        dt.datetime(1970, 1, 1),
        dt.datetime(1900, 1, 1),
        dt.datetime(2262, 4, 11),
        when,
    ]
    cols: dict[str, pa.Array] = {
        "date32": pa.array(
            [
                dt.date(2024, 2, 29),
                None,
                dt.date(1970, 1, 1),
                dt.date(1, 1, 1),
                dt.date(9999, 12, 31),
                dt.date(2000, 1, 1),
            ],
            pa.date32(),
        ),
        "date64": pa.array(
            [
                dt.date(2024, 2, 29),
                None,
                dt.date(1970, 1, 1),
                dt.date(1, 1, 1),
                dt.date(9999, 12, 31),
                dt.date(2000, 1, 1),
            ],
            pa.date64(),
        ),
        "time32[s]": pa.array([0, 86399, None, 1, 2, 3], pa.time32("s")),
        "time32[ms]": pa.array([0, 86_399_999, None, 1, 2, 3], pa.time32("ms")),
        "time64[us]": pa.array([0, 86_399_999_999, None, 1, 2, 3], pa.time64("us")),
        "time64[ns]": pa.array([0, 86_399_999_999_999, None, 1, 2, 3], pa.time64("ns")),
    }
    for unit in ("s", "ms", "us", "ns"):
        for tz in (None, "UTC", "Europe/Paris", "+05:30"):
            cols[f"timestamp[{unit}, {tz}]"] = pa.array(stamps, pa.timestamp(unit, tz=tz))
        cols[f"duration[{unit}]"] = pa.array([0, -1, None, 2**40, -(2**40), 7], pa.duration(unit))
    cols["interval[month_day_nano]"] = pa.array(
        [
            pa.MonthDayNano([1, 2, 3]),
            None,
            pa.MonthDayNano([-1, -2, -3]),
            pa.MonthDayNano([0, 0, 0]),
            pa.MonthDayNano([12, 31, 86_400_000_000_000]),
            pa.MonthDayNano([2**31 - 1, -(2**31), 2**63 - 1]),
        ],
        pa.month_day_nano_interval(),
    )
    return pa.table(cols)


def _binary_like() -> pa.Table:
    text = ["", "short", None, _LONG, "ünïcödé ✓", _LONG + " (2)"]
    raw = [t.encode() if t is not None else None for t in text]
    return pa.table(
        {
            "binary": pa.array(raw, pa.binary()),
            "string": pa.array(text, pa.string()),
            "large_binary": pa.array(raw, pa.large_binary()),
            "large_string": pa.array(text, pa.large_string()),
            "binary_view": pa.array(raw, pa.binary_view()),
            "string_view": pa.array(text, pa.string_view()),
            "fixed_size_binary": pa.array(
                [b"abcde", b"\x00" * 5, None, b"12345", b"\xff" * 5, b"zzzzz"], pa.binary(5)
            ),
        }
    )


def _lists() -> pa.Table:
    ints = [[1, 2], [], None, [None, 4], [5, 6, 7], [8]]
    strs = [["a", _LONG], [], None, [None], ["b"], ["c", "d", "e"]]
    return pa.table(
        {
            "list": pa.array(ints, pa.list_(pa.int32())),
            "large_list": pa.array(strs, pa.large_list(pa.string())),
            "fixed_size_list": pa.array(
                [
                    [1.0, 2.0, 3.0],
                    [None, 0.0, -1.0],
                    None,
                    [4.0, 5.0, 6.0],
                    [7.0, 8.0, 9.0],
                    [0.0, 0.0, 0.0],
                ],
                pa.list_(pa.float64(), 3),
            ),
            "list_view": pa.array(ints, pa.list_view(pa.int16())),
            "large_list_view": pa.array(strs, pa.large_list_view(pa.string())),
            "list<list>": pa.array(
                [[[1], [2, 3]], [], None, [None, []], [[4]], [[5, 6], None]],
                pa.list_(pa.list_(pa.int64())),
            ),
            "list<struct>": pa.array(
                [
                    [{"x": 1, "y": "a"}],
                    [],
                    None,
                    [None, {"x": None, "y": None}],
                    [{"x": 2}],
                    [{"x": 3, "y": _LONG}],
                ],
                pa.list_(pa.struct([("x", pa.int32()), ("y", pa.string())])),
            ),
        }
    )


def _list_view_out_of_order() -> pa.Table:
    """A list view whose views overlap and go backwards, which lists cannot express."""
    offsets = pa.array([4, 0, 0, 2, 1, 5], pa.int32())
    sizes = pa.array([2, 3, 0, 3, 1, 1], pa.int32())
    values = pa.array([10, 11, 12, None, 14, 15], pa.int64())
    mask = pa.array([False, False, True, False, False, False])
    view = pa.ListViewArray.from_arrays(offsets, sizes, values, mask=mask)
    return pa.table({"list_view_overlapping": view})


def _structs_and_maps() -> pa.Table:
    inner = pa.struct([("flag", pa.bool_()), ("tag", pa.string())])
    outer = pa.struct([("a", pa.int32()), ("b", pa.string()), ("c", inner)])
    rows = [
        {"a": 1, "b": "x", "c": {"flag": True, "tag": "t"}},
        {"a": None, "b": None, "c": None},
        None,
        {"a": 4, "b": _LONG, "c": {"flag": None, "tag": None}},
        {"a": 5, "b": "", "c": {"flag": False, "tag": _LONG}},
        {"a": 6, "b": "y", "c": {"flag": True, "tag": ""}},
    ]
    maps = [[("a", 1), ("b", 2)], [], None, [("c", None)], [("d", 4)], [("e", 5), ("f", 6)]]
    return pa.table(
        {
            "struct": pa.array(rows, outer),
            "map": pa.array(maps, pa.map_(pa.string(), pa.int64())),
            "map<int, struct>": pa.array(
                [[(1, {"v": 1.0})], [], None, [(2, None)], [(3, {"v": None})], [(4, {"v": 4.0})]],
                pa.map_(pa.int32(), pa.struct([("v", pa.float64())])),
            ),
            "map_keys_sorted": pa.array(
                [[("a", 1)], [], None, [("b", 2)], [("c", 3)], [("d", 4)]],
                pa.map_(pa.string(), pa.int8(), keys_sorted=True),
            ),
        }
    )


def _unions() -> pa.Table:
    types = pa.array([0, 1, 0, 2, 1, 0], pa.int8())
    ints = pa.array([1, None, 3, 4, 5, 6], pa.int64())
    strs = pa.array(["a", "b", None, _LONG, "e", "f"], pa.string())
    lists = pa.array([[1], [2], [3], [None, 4], [], None], pa.list_(pa.int32()))
    sparse = pa.UnionArray.from_sparse(types, [ints, strs, lists], ["i", "s", "l"])
    dense_offsets = pa.array([0, 0, 1, 0, 1, 2], pa.int32())
    dense = pa.UnionArray.from_dense(
        pa.array([5, 7, 5, 9, 7, 5], pa.int8()),
        dense_offsets,
        [pa.array([1, None, 3]), pa.array(["b", _LONG]), pa.array([[None, 4]])],
        ["i", "s", "l"],
        [5, 7, 9],
    )
    sparse.validate(full=True)
    dense.validate(full=True)
    return pa.table({"sparse_union": sparse, "dense_union": dense})


def _dictionaries() -> pa.Table:
    def dictionary(
        indices: list[int | None], values: pa.Array, index_type: pa.DataType, ordered: bool = False
    ) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(
            pa.array(indices, index_type), values, ordered=ordered
        )

    strings = pa.array(["red", "green", _LONG, None])
    index_rows = [0, 1, None, 2, 3, 0]
    struct_type = pa.struct(
        [
            ("code", pa.dictionary(pa.int16(), pa.string())),
            ("n", pa.int32()),
        ]
    )
    struct_dict = pa.StructArray.from_arrays(
        [
            dictionary([0, 1, 0, None, 1, 0], pa.array(["A", "B"]), pa.int16()),
            pa.array([1, 2, 3, 4, None, 6], pa.int32()),
        ],
        fields=list(struct_type),
        mask=pa.array([False, False, False, False, False, True]),
    )
    list_of_dict = pa.ListArray.from_arrays(
        pa.array([0, 2, 2, 3, 5, 6, 6], pa.int32()),
        dictionary([0, 1, None, 1, 0, 1], pa.array(["x", _LONG]), pa.int8()),
        mask=pa.array([False, False, True, False, False, False]),
    )
    # The dictionary values of the outer dictionary are themselves a list of dictionary
    # values: the writer must emit the inner dictionary first.
    nested_values = pa.ListArray.from_arrays(
        pa.array([0, 1, 3], pa.int32()),
        dictionary([0, 1, 0], pa.array(["in", "out"]), pa.int8()),
    )
    return pa.table(
        {
            "dict<int8, string>": dictionary(index_rows, strings, pa.int8()),
            "dict<uint32, string> ordered": dictionary(
                [2, 1, 0, None, 1, 2], pa.array(["low", "mid", "high"]), pa.uint32(), ordered=True
            ),
            "dict<int64, int64>": dictionary(
                [0, 0, 1, None, 2, 1], pa.array([10, None, -(2**62)]), pa.int64()
            ),
            "dict<int16, large_string>": dictionary(
                index_rows, strings.cast(pa.large_string()), pa.int16()
            ),
            "dict<int8, string_view>": dictionary(
                index_rows, strings.cast(pa.string_view()), pa.int8()
            ),
            "dict<int8, float64>": dictionary(
                [0, 1, 2, None, 3, 0], pa.array([1.5, 2.25, None, -0.0]), pa.int8()
            ),
            "dict<int8, list<int32>>": dictionary(
                [0, 1, None, 1, 0, 2],
                pa.array([[1, 2], [], None], pa.list_(pa.int32())),
                pa.int8(),
            ),
            "dict<int8, struct>": dictionary(
                [0, 1, None, 1, 0, 0], pa.array([{"k": 1}, {"k": None}]), pa.int8()
            ),
            "dict<int8, decimal128>": dictionary(
                [0, 1, None, 1, 0, 0],
                pa.array([Decimal("1.25"), Decimal("-2.50")], pa.decimal128(5, 2)),
                pa.int8(),
            ),
            "list<dict>": list_of_dict,
            "struct<dict>": struct_dict,
            "dict<int8, list<dict>>": dictionary([0, 1, None, 1, 0, 0], nested_values, pa.int8()),
            "all_null_indices": dictionary([None] * N, pa.array(["never"]), pa.int8()),
            "empty_dictionary": dictionary([None] * N, pa.array([], pa.string()), pa.int8()),
        }
    )


def _run_end_encoded() -> pa.Table:
    def ree(run_ends: list[int], values: pa.Array, run_end_type: pa.DataType) -> pa.Array:
        return pa.RunEndEncodedArray.from_arrays(pa.array(run_ends, run_end_type), values)

    return pa.table(
        {
            "ree<int16, string>": ree([2, 3, 6], pa.array(["a", None, _LONG]), pa.int16()),
            "ree<int32, int64>": ree(
                [1, 2, 3, 4, 5, 6], pa.array([1, 2, None, 4, 5, 6]), pa.int32()
            ),
            "ree<int64, float64>": ree([6], pa.array([None], pa.float64()), pa.int64()),
        }
    )


def _extensions() -> pa.Table:
    storage = pa.array(
        [
            {"lo": 0, "hi": 1},
            None,
            {"lo": 5, "hi": None},
            {"lo": -1, "hi": 1},
            {"lo": 2, "hi": 3},
            {"lo": 4, "hi": 9},
        ],
        CUSTOM_EXTENSION.storage_type,
    )
    cols: dict[str, pa.Array] = {
        "custom_range": pa.ExtensionArray.from_storage(CUSTOM_EXTENSION, storage),
        "custom_range_other_params": pa.ExtensionArray.from_storage(
            RangeType("ns", "neither"), storage
        ),
    }
    fields: dict[str, pa.Field] = {}
    if hasattr(pa, "uuid"):
        ids = [uuid.UUID(int=i).bytes if i != 2 else None for i in range(N)]
        cols["uuid"] = pa.ExtensionArray.from_storage(pa.uuid(), pa.array(ids, pa.binary(16)))
    if hasattr(pa, "json_"):
        docs = ['{"a": 1}', "[]", None, '"text"', "null", json.dumps({"long": _LONG})]
        cols["json"] = pa.ExtensionArray.from_storage(pa.json_(), pa.array(docs))
    if hasattr(pa, "bool8"):
        cols["bool8"] = pa.ExtensionArray.from_storage(
            pa.bool8(), pa.array([1, 0, None, 2, 0, 1], pa.int8())
        )
    if hasattr(pa, "opaque"):
        opaque = pa.opaque(pa.binary(), "geometry", "flightnb-tests")
        cols["opaque"] = pa.ExtensionArray.from_storage(
            opaque, pa.array([b"\x01", b"", None, b"\x00\x01", b"x", b"y"])
        )
    if hasattr(pa, "fixed_shape_tensor"):
        tensor = pa.fixed_shape_tensor(pa.int32(), [2, 2], dim_names=["r", "c"])
        cols["fixed_shape_tensor"] = pa.ExtensionArray.from_storage(
            tensor,
            pa.array(
                [[i, i + 1, i + 2, i + 3] if i != 2 else None for i in range(N)],
                pa.list_(pa.int32(), 4),
            ),
        )
    table = pa.table(cols)
    # Field metadata next to the extension's own keys must survive as well.
    for name in table.column_names:
        fields[name] = table.schema.field(name).with_metadata({"note": f"about {name}"})
    return pa.table(table.columns, schema=pa.schema(list(fields.values())))


def _schema_metadata() -> pa.Table:
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False, metadata={"unit": "count", "": "empty"}),
            pa.field("name", pa.string(), metadata={b"bin\x00key": b"\xff\x00\x01"}),
            pa.field(
                "nested",
                pa.struct(
                    [
                        pa.field("inner", pa.float32(), metadata={"inner_meta": "1"}),
                    ]
                ),
                metadata={"outer_meta": "2"},
            ),
        ],
        metadata={"origin": "flightnb tests", "ünïcödé": "✓", "pandas": "{}"},
    )
    return pa.table(
        [
            pa.array(range(N), pa.int64()),
            pa.array(["a", None, "c", "d", "e", "f"]),
            pa.array(
                [{"inner": 1.0}, None, {"inner": None}, {}, {"inner": 2.0}, {}],
                schema.field("nested").type,
            ),
        ],
        schema=schema,
    )


def _zero_columns() -> pa.Table:
    batch = pa.RecordBatch.from_struct_array(pa.array([{}] * 5, pa.struct([])))
    return pa.Table.from_batches([batch])


def _zero_rows() -> pa.Table:
    schema = pa.schema(
        [
            pa.field("i", pa.int32()),
            pa.field("s", pa.string()),
            pa.field("sv", pa.string_view()),
            pa.field("l", pa.list_(pa.int8())),
            pa.field("d", pa.dictionary(pa.int8(), pa.string())),
            pa.field("u", pa.dense_union([pa.field("a", pa.int8())])),
            pa.field("r", pa.run_end_encoded(pa.int32(), pa.string())),
        ]
    )
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([], field.type)
            if not pa.types.is_union(field.type)
            else pa.UnionArray.from_dense(
                pa.array([], pa.int8()), pa.array([], pa.int32()), [pa.array([], pa.int8())], ["a"]
            )
            for field in schema
        ],
        schema=schema,
    )
    return pa.Table.from_batches([batch], schema=schema)


_BUILDERS: list[tuple[str, Callable[[], pa.Table]]] = [
    ("ints", _ints),
    ("floats", _floats),
    ("bool_and_null", _bool_and_null),
    ("decimals", _decimals),
    ("temporal", _temporal),
    ("binary_like", _binary_like),
    ("lists", _lists),
    ("list_view_overlapping", _list_view_out_of_order),
    ("structs_and_maps", _structs_and_maps),
    ("unions", _unions),
    ("dictionaries", _dictionaries),
    ("run_end_encoded", _run_end_encoded),
    ("extensions", _extensions),
    ("schema_metadata", _schema_metadata),
    ("zero_columns", _zero_columns),
    ("zero_rows", _zero_rows),
]

#: The plain cases, one table per family of types.
BASE_CASES: list[tuple[str, pa.Table]] = [(name, build()) for name, build in _BUILDERS]


def _all_null(table: pa.Table) -> pa.Table | None:
    """The table with every column replaced by nulls, None when no column can hold one."""
    columns = []
    for field in table.schema:
        if pa.types.is_union(field.type) or pa.types.is_run_end_encoded(field.type):
            return None  # no validity bitmap of their own; covered by their children
        if not field.nullable:
            return None
        columns.append(pa.nulls(table.num_rows, field.type))
    if not columns:
        return None
    return pa.table(columns, schema=table.schema)


def _sliced(table: pa.Table) -> pa.Table:
    # Offsets of 1 and 3 rows: one is not a multiple of 8 (bit-packed validity and booleans
    # start mid-byte), and the slice is shorter than the parent so trailing data is dropped.
    return table.slice(1, table.num_rows - 3) if table.num_rows > 3 else table.slice(0)


def _derived_cases() -> list[tuple[str, pa.Table]]:
    cases: list[tuple[str, pa.Table]] = []
    for name, table in BASE_CASES:
        if table.num_rows > 3 and table.num_columns:
            cases.append((f"sliced/{name}", _sliced(table)))
        nulls = _all_null(table)
        if nulls is not None:
            cases.append((f"all_null/{name}", nulls))
    return cases


#: Every case: the base ones, their sliced versions and their all-null versions.
CASES: list[tuple[str, pa.Table]] = BASE_CASES + _derived_cases()


def case(name: str) -> pa.Table:
    """The table of the case called ``name``."""
    for case_name, table in CASES:
        if case_name == name:
            return table
    raise KeyError(name)


def multi_batch(table: pa.Table, batches: int = 3) -> pa.Table:
    """``table`` cut into ``batches`` record batches (fewer when it has fewer rows).

    Every batch after the first is a slice with a non-zero offset of the same arrays, so
    dictionaries are shared and the writer sends each one once.
    """
    combined = table.combine_chunks()
    if combined.num_rows == 0:
        return combined
    size = max(1, -(-combined.num_rows // batches))
    return pa.Table.from_batches(combined.to_batches(max_chunksize=size), schema=table.schema)


def _dictionary_batches(
    dictionaries: list[list[str]], index_rows: list[list[int | None]]
) -> list[pa.RecordBatch]:
    schema = pa.schema(
        [
            pa.field("color", pa.dictionary(pa.int32(), pa.string())),
            pa.field("n", pa.int64()),
        ]
    )
    batches = []
    for i, (values, indices) in enumerate(zip(dictionaries, index_rows, strict=True)):
        color = pa.DictionaryArray.from_arrays(pa.array(indices, pa.int32()), pa.array(values))
        n = pa.array(range(i * 100, i * 100 + len(indices)), pa.int64())
        batches.append(pa.RecordBatch.from_arrays([color, n], schema=schema))
    return batches


def dictionary_replacement_batches() -> list[pa.RecordBatch]:
    """Batches whose dictionaries differ unrelatedly: the writer sends replacements."""
    return _dictionary_batches(
        [["red", "green"], ["blue", _LONG, "cyan"], ["magenta"]],
        [[0, 1, None, 0], [2, 1, 0], [0, 0, None]],
    )


def dictionary_delta_batches() -> list[pa.RecordBatch]:
    """Batches whose dictionaries each extend the previous one.

    Written with ``IpcWriteOptions(emit_dictionary_deltas=True)``, every batch after the first
    is preceded by a delta dictionary batch holding only the new values.
    """
    return _dictionary_batches(
        [["red", "green"], ["red", "green", "blue"], ["red", "green", "blue", _LONG, "cyan"]],
        [[0, 1, None], [2, 0, 2, 1], [4, 3, None, 0]],
    )
