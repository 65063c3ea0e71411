"""Readable tables for flight listings, infos, schemas and action results.

Small and dependency-free: an HTML table for notebooks and an aligned text table for
terminals, so magic output is never a repr of a protobuf.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from flightnb.types import ActionType, FlightInfo, Result


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
