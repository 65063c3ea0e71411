"""How ``%flight`` results look: HTML in notebooks, aligned text in terminals.

The magic returns real objects (a pyarrow Table, a pandas or polars DataFrame, FlightInfo,
``pa.Schema``, lists of FlightInfo, ActionType or Result); this module decides how they are
shown, without changing them:

* data (:class:`ResultTable`): an HTML table trimmed to ``FlightMagic.displaylimit`` rows,
  with the shape and each column's type, the same for arrow, pandas and polars;
* metadata (:class:`DisplayTable`): small tables of properties, endpoints, columns, actions;
* :func:`register_formatters` teaches IPython's display formatters these renderings, and
  :func:`one_line_error` shows a :class:`~flightnb.FlightError` raised in a cell as one line.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

from flightnb.convert import frame_library
from flightnb.doctor import Diagnosis, report
from flightnb.errors import FlightError
from flightnb.progress.state import error_text
from flightnb.types import ActionType, FlightInfo, Result

__all__ = [
    "ActionList",
    "DiagnosisTable",
    "DisplayTable",
    "FlightList",
    "ResultList",
    "ResultTable",
    "Tables",
    "one_line_error",
    "register_formatters",
]

_CELL_LIMIT = 200


class DisplayTable:
    """Rows with a header, shown as HTML in notebooks and as aligned text elsewhere."""

    def __init__(
        self, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str = ""
    ) -> None:
        self.columns = list(columns)
        self.rows = [[_cell(v) for v in row] for row in rows]
        self.title = title

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td style='text-align:left'>{html.escape(v)}</td>" for v in row)
            + "</tr>"
            for row in self.rows
        )
        caption = (
            f"<caption style='text-align:left'>{html.escape(self.title)}</caption>"
            if self.title
            else ""
        )
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        widths = [len(c) for c in self.columns]
        for row in self.rows:
            widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
        lines = [self.title] if self.title else []
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)).rstrip()
        )
        lines.append("  ".join("-" * w for w in widths))
        lines += [
            "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
            for row in self.rows
        ]
        return "\n".join(lines)


class DiagnosisTable(DisplayTable):
    """``%flight doctor``'s table: HTML in notebooks, text wrapped to a terminal elsewhere."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(report.COLUMNS, report.rows(diagnosis), title=report.title(diagnosis))
        self.diagnosis = diagnosis

    def __repr__(self) -> str:
        return report.render_text(self.diagnosis)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return describe_bytes(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return "unknown" if value < 0 else f"{value:,}"
    return str(value)


def describe_bytes(data: bytes, limit: int = 80) -> str:
    """Bytes as text when they are UTF-8, else as hex; long values are shortened."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = "0x" + data.hex()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _descriptor_text(info: FlightInfo) -> str:
    return "" if info.descriptor is None else str(info.descriptor)


def flights_table(infos: Sequence[FlightInfo]) -> DisplayTable:
    return DisplayTable(
        ["flight", "records", "bytes", "endpoints", "ordered", "columns"],
        [
            [
                _descriptor_text(i),
                i.total_records,
                i.total_bytes,
                len(i.endpoints),
                i.ordered,
                len(i.schema) if i.schema is not None else None,
            ]
            for i in infos
        ],
        title=f"{len(infos)} flights",
    )


def info_tables(info: FlightInfo) -> list[DisplayTable]:
    summary = DisplayTable(
        ["property", "value"],
        [
            ["flight", _descriptor_text(info)],
            ["records", info.total_records],
            ["bytes", info.total_bytes],
            ["ordered", info.ordered],
            ["endpoints", len(info.endpoints)],
            ["app_metadata", info.app_metadata or None],
        ],
        title="flight info",
    )
    endpoints = DisplayTable(
        ["#", "ticket", "locations", "expires"],
        [
            [
                i,
                e.ticket.ticket,
                ", ".join(map(str, e.locations)) or "(this server)",
                e.expiration_time.isoformat() if e.expiration_time else "",
            ]
            for i, e in enumerate(info.endpoints)
        ],
        title="endpoints",
    )
    tables = [summary, endpoints]
    if info.schema is not None:
        tables.append(schema_table(info.schema))
    return tables


def schema_table(schema: pa.Schema) -> DisplayTable:
    def metadata(field: pa.Field) -> str:
        if not field.metadata:
            return ""
        return ", ".join(
            f"{describe_bytes(k, 30)}={describe_bytes(v, 30)}" for k, v in field.metadata.items()
        )

    return DisplayTable(
        ["column", "type", "nullable", "metadata"],
        [[f.name, f.type, f.nullable, metadata(f)] for f in schema],
        title=f"schema ({len(schema)} columns)",
    )


def actions_table(actions: Sequence[ActionType]) -> DisplayTable:
    return DisplayTable(
        ["action", "description"],
        [[a.type, a.description] for a in actions],
        title=f"{len(actions)} actions",
    )


def results_table(action_type: str, results: Sequence[Result]) -> DisplayTable:
    return DisplayTable(
        ["#", "result"],
        [[i, r.body] for i, r in enumerate(results)],
        title=f"{action_type}: {len(results)} results",
    )


class Tables:
    """Several tables shown one after another."""

    def __init__(self, tables: Sequence[DisplayTable]) -> None:
        self.tables = list(tables)

    def _repr_html_(self) -> str:
        return "<br>".join(t._repr_html_() for t in self.tables)

    def __repr__(self) -> str:
        return "\n\n".join(repr(t) for t in self.tables)


def info_display(info: FlightInfo) -> Tables:
    return Tables(info_tables(info))


class _Listing(list[Any]):
    """A list of server objects that shows itself as a table (it stays a plain list)."""

    def _table(self) -> DisplayTable:  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self._table()._repr_html_()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self._table()))


class FlightList(_Listing):
    """``%flight list``: a list of :class:`~flightnb.FlightInfo`."""

    def _table(self) -> DisplayTable:
        return flights_table(self)


class ActionList(_Listing):
    """``%flight actions``: a list of :class:`~flightnb.ActionType`."""

    def _table(self) -> DisplayTable:
        return actions_table(self)


class ResultList(_Listing):
    """``%flight action TYPE``: the list of :class:`~flightnb.Result` the action returned."""

    def __init__(self, action_type: str, results: Sequence[Result]) -> None:
        super().__init__(results)
        self.action_type = action_type

    def _table(self) -> DisplayTable:
        return results_table(self.action_type, self)


# --- data results ------------------------------------------------------------------------


class ResultTable:
    """A table or frame shown like jupysql's ResultSet: the first rows, its shape and types.

    Parameters
    ----------
    data : pyarrow.Table, pyarrow.RecordBatch, pandas.DataFrame or polars.DataFrame
        What to show (not copied; only the first ``limit`` rows are looked at).
    limit : int or None
        Rows to show; None or 0 shows all of them.
    name : str, optional
        The variable the result was stored in (``-o NAME``), named in the caption.
    """

    def __init__(self, data: Any, limit: int | None, *, name: str | None = None) -> None:
        self.data = data
        self.limit = limit or None
        self.name = name
        self.rows, self.columns, self.types, self.values = _table_parts(data, self.limit)

    @staticmethod
    def supports(data: Any) -> bool:
        if isinstance(data, (pa.Table, pa.RecordBatch)):
            return True
        library = frame_library(data)
        return library is not None and type(data).__name__ == "DataFrame"

    @property
    def caption(self) -> str:
        shown = len(self.values)
        text = f"{_count(self.rows, 'row')}, {_count(len(self.columns), 'column')}"
        if self.name:
            text = f"{self.name}: {text}"
        if shown < self.rows:
            text += f" (showing the first {shown:,}; FlightMagic.displaylimit = {self.limit})"
        return text

    def _repr_html_(self) -> str:
        head = "".join(
            f"<th style='text-align:left'>{html.escape(c)}<br>"
            f"<span style='font-weight:normal;opacity:0.7'>{html.escape(t)}</span></th>"
            for c, t in zip(self.columns, self.types, strict=True)
        )
        body = "".join(
            "<tr>" + "".join(_html_cell(v) for v in row) + "</tr>" for row in self.values
        )
        return (
            "<div class='flightnb-result'>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<div style='font-size:smaller;opacity:0.8'>{html.escape(self.caption)}</div>"
            "</div>"
        )

    def __repr__(self) -> str:
        header = [f"{c} ({t})" for c, t in zip(self.columns, self.types, strict=True)]
        table = DisplayTable(header, [[_text_cell(v) for v in row] for row in self.values])
        return f"{table!r}\n{self.caption}"


def _table_parts(data: Any, limit: int | None) -> tuple[int, list[str], list[str], list[list[Any]]]:
    """(total rows, column names, column types, the first ``limit`` rows as Python values)."""
    if isinstance(data, (pa.Table, pa.RecordBatch)):
        head = data.slice(0, limit) if limit is not None else data
        columns = [str(name) for name in data.schema.names]
        rows = [list(row.values()) for row in head.to_pylist()] if columns else []
        return data.num_rows, columns, [str(t) for t in data.schema.types], rows
    head = data.head(limit) if limit is not None else data
    columns = [str(name) for name in data.columns]
    if frame_library(data) == "polars":
        types = [str(t) for t in data.dtypes]
        return data.height, columns, types, [list(row) for row in head.rows()]
    types = [str(t) for t in data.dtypes]
    return len(data), columns, types, [list(row) for row in head.itertuples(index=False)]


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" + ("" if number == 1 else "s")


def _text_cell(value: Any) -> str:
    if isinstance(value, bytes):
        return describe_bytes(value)
    text = "None" if value is None else str(value)
    return text if len(text) <= _CELL_LIMIT else text[: _CELL_LIMIT - 1] + "…"


def _html_cell(value: Any) -> str:
    if value is None:
        return "<td style='text-align:left;opacity:0.5'>None</td>"
    align = "right" if isinstance(value, (int, float)) and not isinstance(value, bool) else "left"
    return f"<td style='text-align:{align}'>{html.escape(_text_cell(value))}</td>"


# --- IPython integration -----------------------------------------------------------------


def register_formatters(shell: Any, magic: Any) -> None:
    """Teach ``shell``'s display formatters our renderings.

    Arrow tables and batches (which have no HTML of their own), FlightInfo and schemas always
    render ours. A pandas or polars frame renders ours when it is the result the magic just
    returned (``magic._last()``), and its library's own HTML otherwise: loading the extension does
    not change how the notebook's other frames look. pandas and polars are not imported.
    """
    formatters = getattr(getattr(shell, "display_formatter", None), "formatters", None)
    if not formatters:
        return
    html_formatter = formatters["text/html"]

    limit: Callable[[Any], int | None] = magic._limit_for
    last: Callable[[], Any] = magic._last

    def arrow(data: Any) -> str:
        return ResultTable(data, limit(data))._repr_html_()

    def frame(data: Any) -> str | None:
        if data is last():
            return ResultTable(data, limit(data))._repr_html_()
        own = getattr(data, "_repr_html_", None)
        return own() if callable(own) else None

    html_formatter.for_type(pa.Table, arrow)
    html_formatter.for_type(pa.RecordBatch, arrow)
    # The class's __module__ differs between versions (pandas 3 says "pandas").
    for module in ("pandas", "pandas.core.frame", "polars", "polars.dataframe.frame"):
        html_formatter.for_type_by_name(module, "DataFrame", frame)
    html_formatter.for_type(FlightInfo, lambda info: info_display(info)._repr_html_())
    html_formatter.for_type(pa.Schema, lambda schema: schema_table(schema)._repr_html_())
    plain = formatters["text/plain"]
    plain.for_type(FlightInfo, lambda info, printer, cycle: printer.text(repr(info_display(info))))


def one_line_error(
    shell: Any, etype: type[BaseException], value: BaseException, tb: Any, tb_offset: Any = None
) -> list[str]:
    """IPython custom exception handler: a FlightError raised in a cell is shown as one line.

    The server's full text stays on the exception (``exc.detail``) and ``%tb`` still shows
    the traceback.
    """
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb
    line = error_text(value)
    stb = [f"\x1b[0;31m{line}\x1b[0m"]
    shell._showtraceback(etype, value, stb)
    return stb


def install_error_display(shell: Any) -> None:
    """Show FlightErrors in one line, unless the user set a custom handler of their own."""
    current = tuple(getattr(shell, "custom_exceptions", ()) or ())
    if current and current != (FlightError,):
        return
    shell.set_custom_exc((FlightError,), one_line_error)
