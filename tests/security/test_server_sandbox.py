"""Every way out of the SQL sandbox, tried from a real client: each is refused, no file written.

The server is the embedded DuckDB server with its defaults; the client is flightnb's Flight SQL
client, which finds the token of its own user's server. A host file the test writes stands in
for the owner's private files (SSH keys, shell profile); ``/etc/passwd`` for the host's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import flightnb
from flightnb import FlightClient, FlightSqlClient
from flightnb.errors import FlightError, FlightUnauthorizedError
from flightnb.server import FlightSqlServer
from flightnb.server.tickets import QueryTicket, encode_ticket, new_nonce


@pytest.fixture(scope="module")
def host_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of the owner's files the server must not reach."""
    root = tmp_path_factory.mktemp("owner")
    (root / "id_rsa").write_text("-----BEGIN PRIVATE KEY-----\nsecret\n")
    pq.write_table(pa.table({"n": [1, 2, 3]}), root / "private.parquet")
    (root / "private.csv").write_text("a,b\n1,2\n")
    return root


@pytest.fixture(scope="module")
def server() -> Iterator[FlightSqlServer]:
    server = FlightSqlServer(sample_size=100)
    try:
        yield server
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def sql(server: FlightSqlServer) -> Iterator[FlightSqlClient]:
    with FlightSqlClient(server.location) as client:
        yield client


def _escapes(files: Path) -> dict[str, str]:
    out = files / "out"
    return {
        "read_csv": "SELECT * FROM read_csv('/etc/passwd', header=false, sep=':')",
        "read_text": "SELECT * FROM read_text('/etc/passwd')",
        "read_text of an owner file": f"SELECT * FROM read_text('{files}/id_rsa')",
        "read_blob": f"SELECT * FROM read_blob('{files}/id_rsa')",
        "glob": "SELECT * FROM glob('/etc/*')",
        "glob of the owner's files": f"SELECT * FROM glob('{files}/*')",
        "read_parquet": f"SELECT * FROM read_parquet('{files}/private.parquet')",
        "a file as a table": f"SELECT * FROM '{files}/private.csv'",
        "a file URL": "SELECT * FROM read_text('file:///etc/passwd')",
        "COPY TO": f"COPY (SELECT 42) TO '{out}.csv'",
        "COPY FROM": f"CREATE TABLE stolen (a INT, b INT); COPY stolen FROM '{files}/private.csv'",
        "EXPORT DATABASE": f"EXPORT DATABASE '{out}_export'",
        "ATTACH a file": f"ATTACH '{out}.duckdb' AS other",
        "ATTACH in memory": "ATTACH ':memory:' AS other",
        "DETACH": "DETACH memory",
        "INSTALL": "INSTALL httpfs",
        "LOAD": "LOAD httpfs",
        "SET external access": "SET enable_external_access = true",
        "SET GLOBAL": "SET GLOBAL enable_external_access = true",
        "RESET": "RESET lock_configuration",
        "SET allowed_directories": "SET allowed_directories = ['/']",
        "PRAGMA profiling": "PRAGMA enable_profiling",
        "a persistent secret": "CREATE PERSISTENT SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "IMPORT DATABASE": f"IMPORT DATABASE '{files}'",
        "COPY FROM DATABASE": f"COPY FROM DATABASE memory TO '{out}.db'",
    }


ESCAPES = list(_escapes(Path("/x")))


@pytest.mark.parametrize("escape", ESCAPES)
def test_every_escape_is_refused(
    escape: str, sql: FlightSqlClient, host_files: Path, server: FlightSqlServer
) -> None:
    query = _escapes(host_files)[escape]
    with pytest.raises(FlightError) as info:
        sql.query(query)
    assert info.value.code in ("PERMISSION_DENIED", "INVALID_ARGUMENT", "UNIMPLEMENTED")
    assert "PRIVATE KEY" not in str(info.value)  # nothing of the file comes back
    assert sorted(p.name for p in host_files.iterdir()) == [
        "id_rsa",
        "private.csv",
        "private.parquet",
    ]
    # The sandbox still holds after the attempt.
    settings = dict(
        server.database.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('enable_external_access', 'lock_configuration')"
        ).fetchall()
    )
    assert settings == {"enable_external_access": "false", "lock_configuration": "true"}


def test_escapes_are_refused_through_every_path(
    server: FlightSqlServer, sql: FlightSqlClient, host_files: Path
) -> None:
    """Prepared statements, transactions, updates and a hand-made ticket meet the same walls."""
    read = f"SELECT * FROM read_text('{host_files}/id_rsa')"
    with pytest.raises(FlightUnauthorizedError):
        sql.query(read, [])  # a prepared statement
    with pytest.raises(FlightUnauthorizedError):
        sql.execute(f"COPY (SELECT 1) TO '{host_files}/x.csv'")
    txn = sql.begin_transaction()
    try:
        with pytest.raises(FlightUnauthorizedError):
            sql.query(read, transaction=txn)
    finally:
        txn.rollback()
    # A ticket carries its SQL: one made by hand, never planned by the server, is checked too.
    for query in (read, "ATTACH ':memory:' AS other"):
        ticket = encode_ticket(QueryTicket(query, None, new_nonce()))
        with FlightClient(server.location) as client, pytest.raises(FlightUnauthorizedError):
            client.do_get(ticket).read_all()
    assert not (host_files / "x.csv").exists()


def test_the_database_and_uploads_still_work(sql: FlightSqlClient) -> None:
    sql.execute("CREATE TABLE notes AS SELECT 1 AS n")
    sql.execute("INSERT INTO notes VALUES (2)")
    assert sql.query("SELECT sum(n) AS s FROM notes").column("s").to_pylist() == [3]
    assert sql.query("PRAGMA table_info('notes')").num_rows == 1
    uploaded = pa.table({"k": list(range(1000))})
    assert sql.ingest("uploaded", uploaded) == 1000
    assert sql.query("SELECT count(*) AS c FROM uploaded").column("c").to_pylist() == [1000]


def test_a_database_file_still_works(tmp_path: Path) -> None:
    path = tmp_path / "served.duckdb"
    server = FlightSqlServer(database=str(path))
    try:
        with FlightSqlClient(server.location) as sql:
            sql.execute("CREATE TABLE kept AS SELECT * FROM range(100000) t(n)")
            sql.execute("CHECKPOINT")
            with pytest.raises(FlightUnauthorizedError):
                sql.query(f"ATTACH '{tmp_path}/second.duckdb' AS second")
    finally:
        server.shutdown()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["served.duckdb"]
    server = FlightSqlServer(database=str(path), read_only=True)
    try:
        rows = flightnb.read_flight(server.location, sql="SELECT count(*) AS c FROM kept")
        assert rows.column("c").to_pylist() == [100000]
    finally:
        server.shutdown()


def test_allow_dir_opens_that_directory_only(tmp_path: Path, host_files: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "data.csv").write_text("x\n1\n2\n")
    server = FlightSqlServer(allow_dirs=[str(shared)])
    try:
        with FlightSqlClient(server.location) as sql:
            table = sql.query(f"SELECT sum(x) AS s FROM read_csv('{shared}/data.csv')")
            assert table.column("s").to_pylist() == [3]
            sql.execute(f"COPY (SELECT 7 AS y) TO '{shared}/out.csv'")
            assert (shared / "out.csv").read_text().split() == ["y", "7"]
            for query in (
                f"SELECT * FROM read_text('{host_files}/id_rsa')",
                f"SELECT * FROM read_text('{shared}/../../etc/passwd')",
                f"SELECT * FROM read_text('{shared}x/data.csv')",
            ):
                with pytest.raises(FlightUnauthorizedError):
                    sql.query(query)
    finally:
        server.shutdown()


def test_allow_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a directory"):
        FlightSqlServer(allow_dirs=[str(tmp_path / "missing")])
