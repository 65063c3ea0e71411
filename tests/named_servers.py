"""An embedded Flight SQL server that names itself as another database in SqlInfo.

Clients choose the SQL dialect they write in from ``FLIGHT_SQL_SERVER_NAME``. DuckDB also reads
MySQL's backtick-quoted names, so :class:`MySqlNamedServer` runs the SQL a client writes for
MySQL, and its :attr:`~flightnb.server.FlightSqlServer.recent_queries` show how it was quoted.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from flightnb._proto import FlightSql_pb2 as sql
from flightnb.server import FlightSqlServer
from flightnb.server.sql_info import sql_info_table

__all__ = ["MySqlNamedServer"]

NAME = "MySQL 8.0 (in name only)"


class MySqlNamedServer(FlightSqlServer):
    """Answers SqlInfo's ``FLIGHT_SQL_SERVER_NAME`` with a MySQL name."""

    def do_get_metadata(self, context: Any, command: Any) -> pa.Table:
        if isinstance(command, sql.CommandGetSqlInfo):
            values = {**self._sql_info, sql.SqlInfo.FLIGHT_SQL_SERVER_NAME: NAME}
            return sql_info_table(values, command.info)
        return super().do_get_metadata(context, command)
