"""A polars predicate as a SQL ``WHERE`` clause, with its literals as bound Arrow values.

Only what translates *safely* is translated: a conjunct is pushed to the server only when the
rows the server keeps are guaranteed to include every row polars would keep. The caller always
applies the whole polars predicate again to what arrives, so a translation may keep *more*
rows than polars (a case-insensitive collation matching ``'ABC'`` for ``== 'abc'``), never
fewer. Each translation says whether it is *exact* (keeps exactly polars' rows); only exact
parts may go under ``NOT``, and a ``LIMIT`` may follow a ``WHERE`` only if all of it is exact.

What is translated (anything else stays local):

* comparisons (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``) between a column and a literal,
  ``is_between``, ``is_in`` (without ``nulls_equal``), ``is_null``, ``is_not_null``, a boolean
  column on its own, ``&``, ``|``, ``~``, and ``str.starts_with`` (as ``LIKE``);
* on integer, decimal, boolean, date, time and timestamp columns: every comparison, exact;
* on float columns: every comparison, exact, but only for servers whose SQL orders NaN the
  way polars does (NaN equals NaN and sorts above every number: DuckDB, PostgreSQL);
* on string columns: ``==``, ``is_in`` and ``starts_with`` only, as inexact (collations and
  trailing-space rules may match more strings, never fewer); ordering and ``!=`` stay local.

The literal is cast to the column's Arrow type with a *safe* cast (a literal that does not fit
exactly, such as ``5.5`` against an integer column, keeps its conjunct local) and travels as a
statement parameter; placeholders are ``?``, in text order. For a server that does not bind
parameters (``bind=False``) the value is written into the SQL instead, as a typed literal of
the server's dialect (:mod:`flightnb.scan.literals`); a value that cannot be written exactly
and safely keeps its conjunct local.

The tree is read from ``Expr.meta.serialize(format="json")``, whose shape is the same on
polars 1.x and 2.x; a node this module does not know is simply not translated.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from flightnb.protocol.dialects import GENERIC, Dialect, quote_identifier
from flightnb.scan.literals import render_literal

__all__ = ["SqlCondition", "translate_predicate"]

#: ``is_in`` lists longer than this stay local (each value is one bound parameter).
MAX_IN_VALUES = 1000

#: Literals written for one node (an ``is_in`` list) longer than this stay local: the SQL text
#: must stay well below the request size servers accept (often 4 MiB).
MAX_LITERAL_CHARS = 64 * 1024


@dataclass(frozen=True)
class SqlCondition:
    """A SQL boolean expression with ``?`` placeholders and the Arrow values they bind."""

    text: str
    parameters: tuple[pa.Scalar, ...] = field(default=(), repr=False)
    #: Keeps exactly the rows polars keeps (else: at least those).
    exact: bool = True
    #: Every conjunct of the predicate was translated.
    complete: bool = True


_FLIP = {"Lt": "Gt", "LtEq": "GtEq", "Gt": "Lt", "GtEq": "LtEq", "Eq": "Eq", "NotEq": "NotEq"}
_SQL_OP = {"Eq": "=", "NotEq": "<>", "Lt": "<", "LtEq": "<=", "Gt": ">", "GtEq": ">="}


def translate_predicate(
    predicate: Any, schema: pa.Schema, dialect: Dialect = GENERIC, *, bind: bool = True
) -> SqlCondition | None:
    """The translatable part of a polars predicate as SQL, or None if no part is.

    Parameters
    ----------
    predicate : polars.Expr
        The predicate polars pushed into the scan.
    schema : pyarrow.Schema
        The columns the SQL refers to, with their Arrow types.
    dialect : Dialect
        The server's SQL (identifier quotes, NaN rules, literals).
    bind : bool, default True
        Values as ``?`` parameters; False writes them as literals (for servers that do not
        bind), and conjuncts whose values cannot be written safely stay local.

    Examples
    --------
    >>> import polars as pl
    >>> schema = pa.schema([("n", pa.int64()), ("s", pa.string())])
    >>> condition = translate_predicate((pl.col("n") > 5) & (pl.col("s") < "b"), schema)
    >>> condition.text, [p.as_py() for p in condition.parameters], condition.complete
    ('"n" > ?', [5], False)
    >>> print(translate_predicate(pl.col("s") == "it's", schema, bind=False).text)
    "s" = 'it''s'
    """
    with warnings.catch_warnings():
        # polars marks its JSON format unstable; the shape we read is checked by our tests.
        warnings.simplefilter("ignore")
        text = predicate.meta.serialize(format="json")
    tree = json.loads(text)
    return _Translator(schema, dialect, bind).node(tree)


class _Translator:
    def __init__(self, schema: pa.Schema, dialect: Dialect, bind: bool = True) -> None:
        self.schema = schema
        self.dialect = dialect
        self.bind = bind

    def place(self, *values: pa.Scalar) -> tuple[list[str], tuple[pa.Scalar, ...]] | None:
        """Each value's SQL (``?`` or its literal) and the parameters to bind; None if one
        value cannot be written as a literal."""
        if self.bind:
            return ["?" for _ in values], values
        texts = [render_literal(v, self.dialect.literals) for v in values]
        if any(t is None for t in texts):
            return None
        if sum(len(t) for t in texts if t is not None) > MAX_LITERAL_CHARS:
            return None
        return [t for t in texts if t is not None], ()

    def node(self, node: Any) -> SqlCondition | None:
        if not isinstance(node, dict) or len(node) != 1:
            return None
        ((kind, body),) = node.items()
        if kind == "BinaryExpr":
            return self.binary(body)
        if kind == "Function":
            return self.function(body)
        if kind == "Column":
            column = self.column(node)
            placed = self.place(pa.scalar(True))
            if column is not None and pa.types.is_boolean(column[1]) and placed is not None:
                return SqlCondition(f"{column[0]} = {placed[0][0]}", placed[1])
        return None

    # --- leaves ------------------------------------------------------------------------------

    def column(self, node: Any) -> tuple[str, pa.DataType] | None:
        """(quoted name, Arrow type) of a column node of the schema."""
        if isinstance(node, dict) and set(node) == {"Cast"}:
            return self.widened_decimal(node["Cast"])
        if not isinstance(node, dict) or set(node) != {"Column"}:
            return None
        name = node["Column"]
        if not isinstance(name, str) or name not in self.schema.names:
            return None
        if self.schema.get_all_field_indices(name) != [self.schema.get_field_index(name)]:
            return None  # a duplicated name is ambiguous in SQL
        return quote_identifier(name, self.dialect), self.schema.field(name).type

    def widened_decimal(self, cast: Any) -> tuple[str, pa.DataType] | None:
        """A decimal column cast to a wider precision of its scale (polars 1.x adds these)."""
        if not isinstance(cast, dict):
            return None
        column = self.column(cast.get("expr"))
        target = cast.get("dtype")
        if column is None or not pa.types.is_decimal(column[1]) or not isinstance(target, dict):
            return None
        decimal = (target.get("Literal") or {}) if isinstance(target.get("Literal"), dict) else {}
        spec = decimal.get("Decimal")
        if not (isinstance(spec, list) and len(spec) == 2):
            return None
        precision, scale = spec
        if scale != column[1].scale or not isinstance(precision, int):
            return None
        return column if precision >= column[1].precision else None

    @staticmethod
    def literal(node: Any) -> pa.Array | None:
        """The literal's values as Arrow (polars evaluates it, so its type is polars' own)."""
        if not isinstance(node, dict) or set(node) != {"Literal"}:
            return None
        import polars as pl

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expr = pl.Expr.deserialize(io.StringIO(json.dumps(node)), format="json")
            series = pl.select(expr.alias("v")).to_series()
        except Exception:  # an unknown literal kind: leave the conjunct to polars
            return None
        if len(series) != 1:
            return None
        array = series.to_arrow()
        return array if isinstance(array, pa.Array) else array.combine_chunks()

    def kind(self, type_: pa.DataType) -> str | None:
        """How a column of this type may be compared on the server (None: not at all)."""
        if (
            pa.types.is_integer(type_)
            or pa.types.is_decimal(type_)
            or pa.types.is_boolean(type_)
            or pa.types.is_date(type_)
            or pa.types.is_time(type_)
            or pa.types.is_timestamp(type_)
        ):
            return "exact"
        if pa.types.is_floating(type_):
            return "exact" if self.dialect.nan_like_polars else None
        if pa.types.is_string(type_) or pa.types.is_large_string(type_) or _is_string_view(type_):
            return "string"
        return None

    def value(self, array: pa.Array, type_: pa.DataType) -> pa.Scalar | None:
        """One literal value cast safely to the column's type; None if it does not fit."""
        if len(array) != 1 or array.null_count:
            return None
        try:
            cast = array.cast(type_, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None
        scalar = cast[0]
        if pa.types.is_floating(type_) and math.isnan(scalar.as_py()):
            return None
        if _is_string_view(type_):
            scalar = pa.scalar(scalar.as_py(), pa.string())
        return scalar

    # --- nodes -------------------------------------------------------------------------------

    def binary(self, body: dict[str, Any]) -> SqlCondition | None:
        op = body.get("op")
        left, right = body.get("left"), body.get("right")
        if op in ("And", "LogicalAnd"):
            a, b = self.node(left), self.node(right)
            if a is None or b is None:
                kept = a or b
                if kept is None:
                    return None
                return SqlCondition(kept.text, kept.parameters, exact=False, complete=False)
            return SqlCondition(
                f"({a.text}) AND ({b.text})",
                a.parameters + b.parameters,
                exact=a.exact and b.exact,
                complete=a.complete and b.complete,
            )
        if op in ("Or", "LogicalOr"):
            a, b = self.node(left), self.node(right)
            if a is None or b is None:
                return None  # half of an OR would drop the other half's rows
            # Supersets of both sides make a superset of the OR.
            return SqlCondition(
                f"({a.text}) OR ({b.text})",
                a.parameters + b.parameters,
                exact=a.exact and b.exact,
                complete=a.complete and b.complete,
            )
        if op in _SQL_OP:
            column, other = self.column(left), right
            if column is None:
                column, other, op = self.column(right), left, _FLIP[op]
            if column is None:
                return None
            return self.comparison(column, op, other)
        return None

    def comparison(
        self, column: tuple[str, pa.DataType], op: str, other: Any
    ) -> SqlCondition | None:
        name, type_ = column
        kind = self.kind(type_)
        if kind is None or (kind == "string" and op != "Eq"):
            return None
        array = self.literal(other)
        scalar = self.value(array, type_) if array is not None else None
        placed = self.place(scalar) if scalar is not None else None
        if placed is None:
            return None
        return SqlCondition(f"{name} {_SQL_OP[op]} {placed[0][0]}", placed[1], kind == "exact")

    def function(self, body: dict[str, Any]) -> SqlCondition | None:
        inputs = body.get("input") or []
        function = body.get("function")
        if not isinstance(function, dict) or len(function) != 1:
            return None
        ((family, which),) = function.items()
        if family == "Boolean":
            if which == "Not" and len(inputs) == 1:
                inner = self.node(inputs[0])
                if inner is None or not (inner.exact and inner.complete):
                    return None  # NOT of a superset would be a subset
                return SqlCondition(f"NOT ({inner.text})", inner.parameters)
            if which in ("IsNull", "IsNotNull") and len(inputs) == 1:
                column = self.column(inputs[0])
                if column is None:
                    return None
                return SqlCondition(f"{column[0]} IS {'' if which == 'IsNull' else 'NOT '}NULL")
            if isinstance(which, dict) and "IsIn" in which and len(inputs) == 2:
                options = which["IsIn"] or {}
                if options.get("nulls_equal"):
                    return None
                return self.is_in(inputs[0], inputs[1])
            if isinstance(which, dict) and "IsBetween" in which and len(inputs) == 3:
                return self.between(inputs, (which["IsBetween"] or {}).get("closed"))
            return None
        if family == "StringExpr" and which == "StartsWith" and len(inputs) == 2:
            return self.starts_with(inputs[0], inputs[1])
        return None

    def is_in(self, target: Any, values: Any) -> SqlCondition | None:
        column = self.column(target)
        array = self.literal(values)
        if column is None or array is None or array.null_count:
            return None
        name, type_ = column
        kind = self.kind(type_)
        if kind is None:
            return None
        if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            array = array.flatten()
        elif _is_list_view(array.type):
            array = pa.array(array.to_pylist()[0], type=array.type.value_type)
        array = array.drop_null()  # polars: a null never matches (nulls_equal is False)
        if len(array) == 0 or len(array) > MAX_IN_VALUES:
            return None
        scalars = [self.value(array.slice(i, 1), type_) for i in range(len(array))]
        if any(s is None for s in scalars):
            return None
        placed = self.place(*(s for s in scalars if s is not None))
        if placed is None:
            return None
        return SqlCondition(f"{name} IN ({', '.join(placed[0])})", placed[1], kind == "exact")

    def between(self, inputs: list[Any], closed: Any) -> SqlCondition | None:
        column = self.column(inputs[0])
        if column is None or closed not in ("Both", "Left", "Right", "None"):
            return None
        low_op = "GtEq" if closed in ("Both", "Left") else "Gt"
        high_op = "LtEq" if closed in ("Both", "Right") else "Lt"
        low = self.comparison(column, low_op, inputs[1])
        high = self.comparison(column, high_op, inputs[2])
        if low is None or high is None:
            return None
        return SqlCondition(
            f"({low.text}) AND ({high.text})",
            low.parameters + high.parameters,
            exact=low.exact and high.exact,
        )

    def starts_with(self, target: Any, prefix: Any) -> SqlCondition | None:
        column = self.column(target)
        array = self.literal(prefix)
        if column is None or array is None or self.kind(column[1]) != "string":
            return None
        if not self.dialect.like:
            return None
        value = self.value(array, pa.string())
        if value is None:
            return None
        text = value.as_py()
        escape = self.dialect.like_escape
        pattern = "".join(escape + c if c in (escape, "%", "_") else c for c in text) + "%"
        placed = self.place(pa.scalar(pattern, pa.string()))
        if placed is None:
            return None
        return SqlCondition(
            f"{column[0]} LIKE {placed[0][0]} ESCAPE '{escape}'", placed[1], exact=False
        )


def _is_string_view(type_: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", None)
    return bool(is_view is not None and is_view(type_))


def _is_list_view(type_: pa.DataType) -> bool:
    checks = [getattr(pa.types, n, None) for n in ("is_list_view", "is_large_list_view")]
    return any(check is not None and check(type_) for check in checks)
