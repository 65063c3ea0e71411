"""Arrow scalars written as SQL literals, for servers that do not bind parameters.

A scan binds its filter values as statement parameters. Some Flight SQL servers (roapi, whose
``do_put_prepared_statement_query`` answers UNIMPLEMENTED) cannot bind; for them the scan writes
each value into the SQL text instead. Doing that is only sound when the literal is *exactly*
the value, as the server reads it, and cannot end the literal early. So :func:`render_literal`
writes a value only when both hold in the server's dialect and answers None otherwise; the
caller then keeps that filter on the client, which is always correct.

What is written, and what is refused (None):

* integers of the signed 64-bit range, except its minimum (``-9223372036854775808`` is the
  negation of a number that overflows on several parsers); negative numbers in parentheses;
* booleans as ``TRUE`` / ``FALSE``;
* finite floats as ``CAST('<text>' AS DOUBLE PRECISION)`` (``REAL`` for 32-bit floats), the
  text being Python's shortest round-trip form: a bare ``0.1`` is a DECIMAL on DuckDB and
  PostgreSQL, whose conversion to a double may round differently, while a string cast to a
  float is parsed once, correctly rounded; NaN and infinities are refused. Dialects without
  ``CAST`` of a string get the text with an exponent (``2.5e0``), a double in SQL's grammar;
* decimals as ``CAST('<digits>' AS DECIMAL(p, s))`` with the column's own precision and scale
  (a bare ``1.5`` is a float on some servers, which would compare inexactly); refused where
  ``CAST`` is not understood;
* dates, times and time-zone-naive timestamps as ``DATE '...'``, ``TIME '...'``,
  ``TIMESTAMP '...'`` in dialects that read typed literals, to microseconds (a value with a
  sub-microsecond part is refused: some servers would truncate it); years 1 to 9999 only;
  zoned timestamps as the UTC instant, ``TIMESTAMPTZ '... +00:00'``, only in dialects known
  to read that (DuckDB, PostgreSQL), else refused;
* strings in single quotes, a quote doubled. Refused: a NUL character; a backslash, unless
  the dialect is known to read it as an ordinary character (MySQL reads ``\\'`` as a quote,
  so ``'a\\'`` would run on past the literal); a quote, in dialects that do not double
  quotes; strings longer than :data:`MAX_STRING_CHARS`;
* NULL is never written: comparisons with NULL are not translated in the first place.
"""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa

from flightnb.protocol.dialects import LiteralRules

__all__ = ["CONSERVATIVE", "MAX_STRING_CHARS", "render_literal"]

#: The rules for a server whose dialect is unknown.
CONSERVATIVE = LiteralRules()

#: Longer strings stay on the client rather than grow the SQL text without bound.
MAX_STRING_CHARS = 4096

_INT64_MAX = 2**63 - 1
_EPOCH = dt.datetime(1970, 1, 1)
_UNITS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def render_literal(value: pa.Scalar, rules: LiteralRules = CONSERVATIVE) -> str | None:
    """``value`` as a SQL literal that reads back exactly, or None if that cannot be promised.

    Examples
    --------
    >>> render_literal(pa.scalar("it's"))
    "'it''s'"
    >>> render_literal(pa.scalar(-5))
    '(-5)'
    >>> print(render_literal(pa.scalar("a\\\\b")))
    None
    >>> render_literal(pa.scalar(True))
    'TRUE'
    """
    if not value.is_valid:
        return None
    type_ = value.type
    if pa.types.is_boolean(type_):
        return "TRUE" if value.as_py() else "FALSE"
    if pa.types.is_integer(type_):
        return _integer(int(value.as_py()))
    if pa.types.is_floating(type_):
        sql_type = "REAL" if type_.bit_width < 64 else "DOUBLE PRECISION"
        return _float(float(value.as_py()), sql_type if rules.casts else None)
    if pa.types.is_decimal(type_):
        return _decimal(value) if rules.casts else None
    if pa.types.is_string(type_) or pa.types.is_large_string(type_) or _is_string_view(type_):
        return _string(str(value.as_py()), rules)
    if not rules.typed_literals:
        return None
    if pa.types.is_date(type_):
        return _date(value)
    if pa.types.is_timestamp(type_):
        return _timestamp(value, rules)
    if pa.types.is_time(type_):
        return _time(value)
    return None


def _signed(text: str, negative: bool) -> str:
    # Parentheses keep "- -5" or "x--5" (a comment!) from ever being written.
    return f"({text})" if negative else text


def _integer(number: int) -> str | None:
    if not -_INT64_MAX <= number <= _INT64_MAX:
        return None
    return _signed(str(number), number < 0)


def _float(number: float, sql_type: str | None) -> str | None:
    if not math.isfinite(number):
        return None
    if sql_type is not None:
        return f"CAST('{number!r}' AS {sql_type})"
    text = repr(number)
    if "e" not in text:
        text += "e0"  # a double, not a decimal, in SQL's grammar
    return _signed(text, text.startswith("-"))


def _decimal(value: pa.Scalar) -> str | None:
    type_ = value.type
    number = value.as_py()
    digits = format(number, "f")
    if not digits.lstrip("-").replace(".", "", 1).isdigit():
        return None
    return f"CAST('{digits}' AS DECIMAL({type_.precision}, {type_.scale}))"


def _string(text: str, rules: LiteralRules) -> str | None:
    if len(text) > MAX_STRING_CHARS or "\x00" in text:
        return None
    if "\\" in text and not rules.backslash_is_literal:
        return None
    if "'" in text and not rules.doubles_quotes:
        return None
    return "'" + text.replace("'", "''") + "'"


def _ticks(value: pa.Scalar) -> int:
    """The stored integer of a date, time or timestamp scalar."""
    storage = pa.int32() if value.type.bit_width == 32 else pa.int64()
    return int(pa.array([value], value.type).cast(storage)[0].as_py())


def _microseconds(ticks: int, unit: str) -> int | None:
    """``ticks`` of ``unit`` as whole microseconds (None if that loses a part)."""
    per_second = _UNITS[unit]
    if per_second >= 1_000_000:
        whole, part = divmod(ticks, per_second // 1_000_000)
        return whole if part == 0 else None
    return ticks * (1_000_000 // per_second)


def _clock(moment: dt.datetime | dt.time) -> str:
    text = f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    return text + (f".{moment.microsecond:06d}" if moment.microsecond else "")


def _date(value: pa.Scalar) -> str | None:
    if pa.types.is_date64(value.type):
        ticks = _ticks(value)
        if ticks % 86_400_000:
            return None  # a date64 with a time of day is not a date
        days = ticks // 86_400_000
    else:
        days = _ticks(value)
    try:
        day = dt.date(1970, 1, 1) + dt.timedelta(days=days)
    except OverflowError:
        return None
    return f"DATE '{day.year:04d}-{day.month:02d}-{day.day:02d}'"


def _timestamp(value: pa.Scalar, rules: LiteralRules) -> str | None:
    zoned = value.type.tz is not None
    if zoned and not rules.zoned_timestamps:
        return None
    micros = _microseconds(_ticks(value), value.type.unit)
    if micros is None:
        return None
    try:
        moment = _EPOCH + dt.timedelta(microseconds=micros)
    except OverflowError:
        return None
    day = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
    if zoned:  # the stored value is the UTC instant, whatever the zone shown
        return f"TIMESTAMPTZ '{day} {_clock(moment)}+00:00'"
    return f"TIMESTAMP '{day} {_clock(moment)}'"


def _time(value: pa.Scalar) -> str | None:
    micros = _microseconds(_ticks(value), value.type.unit)
    if micros is None or not 0 <= micros < 86_400_000_000:
        return None
    moment = (_EPOCH + dt.timedelta(microseconds=micros)).time()
    return f"TIME '{_clock(moment)}'"


def _is_string_view(type_: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", None)
    return bool(is_view is not None and is_view(type_))
