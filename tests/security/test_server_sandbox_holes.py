"""Ways out of the SQL sandbox beyond the obvious ones, tried from real clients.

* DuckDB lets queries reach its temporary directory even with external access off; its
  default is ``.tmp`` in the server's working directory (``<file>.tmp`` beside a database
  file), a directory of the owner's, not the server's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flightnb import FlightSqlClient
from flightnb.errors import FlightError
from flightnb.server import FlightSqlServer


@pytest.fixture
def owner_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The owner's working directory, with a private file where DuckDB would spill."""
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "notes.txt").write_text("owner's private notes\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _refused(sql: FlightSqlClient, query: str) -> None:
    with pytest.raises(FlightError) as info:
        sql.query(query)
    assert info.value.code in ("PERMISSION_DENIED", "INVALID_ARGUMENT")
    assert "private notes" not in str(info.value)


def test_the_working_directory_temp_dir_is_out_of_reach(owner_dir: Path) -> None:
    spill = owner_dir / ".tmp"
    server = FlightSqlServer(sample_size=10)
    try:
        with FlightSqlClient(server.location) as sql:
            _refused(sql, f"SELECT * FROM read_text('{spill}/notes.txt')")
            _refused(sql, f"SELECT * FROM glob('{spill}/*')")
            _refused(sql, f"COPY (SELECT 42 AS x) TO '{spill}/planted.csv'")
    finally:
        server.shutdown()
    assert sorted(p.name for p in spill.iterdir()) == ["notes.txt"]


def test_the_database_file_temp_dir_is_out_of_reach(tmp_path: Path) -> None:
    spill = tmp_path / "served.duckdb.tmp"
    spill.mkdir()
    (spill / "notes.txt").write_text("owner's private notes\n")
    server = FlightSqlServer(database=str(tmp_path / "served.duckdb"))
    try:
        with FlightSqlClient(server.location) as sql:
            _refused(sql, f"SELECT * FROM read_text('{spill}/notes.txt')")
            _refused(sql, f"COPY (SELECT 42 AS x) TO '{spill}/planted.csv'")
            # Queries still run, with DuckDB's temporary directory elsewhere.
            rows = sql.query("SELECT count(*) AS c FROM (SELECT * FROM range(10) ORDER BY 1)")
            assert rows.column("c").to_pylist() == [10]
    finally:
        server.shutdown()
    assert sorted(p.name for p in spill.iterdir()) == ["notes.txt"]


def test_the_server_temp_dir_is_private_and_removed(tmp_path: Path) -> None:
    server = FlightSqlServer(sample_size=10)
    ((temp,),) = server.database.execute("SELECT current_setting('temp_directory')").fetchall()
    path = Path(temp)
    assert path.is_dir() and path.stat().st_mode & 0o077 == 0
    server.shutdown()
    assert not path.exists()
