"""An embedded Flight SQL server backed by DuckDB, for demos, tests and local work.

Needs the ``server`` extra (``pip install flightnb[server]``).

Examples
--------
>>> from flightnb.server import FlightSqlServer
>>> server = FlightSqlServer(sample_size=1000)  # listening on 127.0.0.1, a free port
>>> server.shutdown()
"""

from flightnb.server.cli import serve
from flightnb.server.duckdb_server import FlightSqlServer

__all__ = ["FlightSqlServer", "serve"]
