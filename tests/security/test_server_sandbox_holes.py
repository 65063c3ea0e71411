"""Ways out of the SQL sandbox beyond the obvious ones, tried from real clients.

* DuckDB lets queries reach its temporary directory even with external access off; its
  default is ``.tmp`` in the server's working directory (``<file>.tmp`` beside a database
  file), a directory of the owner's, not the server's.
* ``IMPORT DATABASE`` runs the statements of a ``schema.sql`` file inside DuckDB, where the
  server's check of each statement's kind never sees them: from a directory queries may
  write to (``--allow-dir``), a client could ATTACH, USE and DETACH the served database.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from flightnb import FlightSqlClient
from flightnb.errors import FlightError, FlightUnauthorizedError
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


@pytest.mark.parametrize(
    "spelling",
    [
        "IMPORT DATABASE '{dir}'",
        "/* a comment */ import\n  database '{dir}'",
        "PRAGMA import_database('{dir}')",
        "pragma/**/IMPORT_DATABASE('{dir}')",
        "PRAGMA \"import_database\"('{dir}')",
        "SELECT 1; IMPORT DATABASE '{dir}'",
        # DuckDB nests comments: the name it reads here is import_database, not table_info.
        "PRAGMA /* /* */ table_info */ import_database('{dir}')",
        "PRAGMA -- a line comment ends at a carriage return\rimport_database('{dir}')",
        "COPY FROM DATABASE memory TO memory",
    ],
)
def test_import_database_cannot_run_a_planted_script(tmp_path: Path, spelling: str) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    server = FlightSqlServer(sample_size=10, allow_dirs=[str(shared)])
    try:
        with FlightSqlClient(server.location) as sql:
            # A client may write files into the shared directory: here, a script.
            script = f"ATTACH '{shared}/planted.duckdb' AS planted; USE planted; DETACH memory;"
            sql.execute(
                f"COPY (SELECT '{script.replace(chr(39), chr(39) * 2)}' AS line) "
                f"TO '{shared}/schema.sql' (HEADER false, QUOTE '', FORMAT csv)"
            )
            sql.execute(
                f"COPY (SELECT 1 AS x WHERE false) TO '{shared}/load.sql' "
                "(HEADER false, QUOTE '', FORMAT csv)"
            )
            with pytest.raises(FlightUnauthorizedError):
                sql.execute(spelling.format(dir=shared))
            # The served database is still there, and nothing else is attached.
            assert sql.query("SELECT count(*) AS c FROM trips").column("c").to_pylist() == [10]
            databases = sql.query("SELECT database_name FROM duckdb_databases()")
            assert "planted" not in databases.column(0).to_pylist()
    finally:
        server.shutdown()
    assert not (shared / "planted.duckdb").exists()


def test_informational_pragmas_still_work() -> None:
    server = FlightSqlServer(sample_size=10)
    try:
        with FlightSqlClient(server.location) as sql:
            assert sql.query("PRAGMA table_info('trips')").num_rows > 0
            assert sql.query("/* tables */ pragma -- all\n show_tables").num_rows == 2
            assert sql.query("PRAGMA version").num_rows == 1
            assert isinstance(sql.query("PRAGMA database_size"), pa.Table)
    finally:
        server.shutdown()


def test_links_out_of_an_allowed_directory_are_refused(tmp_path: Path) -> None:
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir()
    (private / "notes.txt").write_text("owner's private notes\n")
    (shared / "notes.txt").symlink_to(private / "notes.txt")
    (shared / "private").symlink_to(private)
    server = FlightSqlServer(sample_size=10, allow_dirs=[str(shared)])
    try:
        with FlightSqlClient(server.location) as sql:
            _refused(sql, f"SELECT * FROM read_text('{shared}/notes.txt')")
            _refused(sql, f"SELECT * FROM read_text('{shared}/private/notes.txt')")
            _refused(sql, f"COPY (SELECT 42 AS x) TO '{shared}/private/planted.csv'")
    finally:
        server.shutdown()
    assert sorted(p.name for p in private.iterdir()) == ["notes.txt"]


MORE_ESCAPES = [
    "COPY (SELECT 'forged log line' AS x) TO '/dev/stderr'",
    "SELECT * FROM read_text('/dev/stdin')",
    "SELECT * FROM read_text('pipe:cat /etc/passwd')",
    "SELECT * FROM read_csv('http://127.0.0.1:9/x.csv')",
    "SELECT * FROM read_text('/proc/self/environ')",
    "SELECT getenv('HOME')",
    "CREATE TEMPORARY SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "CALL enable_logging(storage = 'file', storage_path = '/tmp/flightnb-log')",
    "CALL enable_profiling()",
    "PRAGMA force_checkpoint",
    "PREPARE p AS SELECT * FROM read_text('/etc/passwd'); EXECUTE p",
    "SELECT * FROM query('SELECT * FROM read_text(''/etc/passwd'')')",
    "CREATE MACRO f(p) AS TABLE SELECT * FROM read_text(p); SELECT * FROM f('/etc/passwd')",
    "SUMMARIZE SELECT * FROM read_text('/etc/passwd')",
    "UPDATE EXTENSIONS",
]


@pytest.mark.parametrize("query", MORE_ESCAPES)
def test_more_escapes_are_refused(query: str) -> None:
    server = FlightSqlServer(sample_size=None)
    try:
        with FlightSqlClient(server.location) as sql:
            with pytest.raises(FlightError) as info:
                sql.query(query)
            assert info.value.code in ("PERMISSION_DENIED", "INVALID_ARGUMENT", "NOT_FOUND")
            assert "root:" not in str(info.value)
    finally:
        server.shutdown()
