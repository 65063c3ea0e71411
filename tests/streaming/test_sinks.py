"""write_parquet / write_ipc / write_dataset on real servers, and how they fail."""

from __future__ import annotations

import _thread
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as flight
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
from streaming_servers import PartsServer, numbered

import flightnb
from flightnb.functions.sinks import (
    MANIFEST_NAME,
    FlightSinkError,
    write_dataset,
    write_ipc,
    write_parquet,
)

HERE = Path(__file__).resolve().parent


def _flight(server: PartsServer, name: str, parts: int, rows: int, **options: object) -> pa.Table:
    for i in range(parts):
        server.add_part(f"{name}/{i}", numbered(rows, i * rows), **options)  # type: ignore[arg-type]
    endpoints = [
        flight.FlightEndpoint(f"{name}/{i}".encode(), [server.location]) for i in range(parts)
    ]
    server.add_flight(name, endpoints, numbered(1).schema, ordered=True)
    return numbered(parts * rows)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_write_parquet_cuts_row_groups_of_the_requested_size(parts_server, tmp_path) -> None:
    expected = _flight(parts_server, "pq", 4, 2500, chunk=300)
    target = tmp_path / "out.parquet"
    summary = write_parquet(
        parts_server.location, target, path="pq", row_group_size=1000, progress=False
    )
    assert summary.rows == 10_000 and summary.files == (str(target),)
    assert summary.bytes == target.stat().st_size and summary.seconds > 0
    assert summary.received_bytes > 0
    metadata = pq.ParquetFile(target).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [1000] * 10
    assert metadata.row_group(0).column(0).compression == "ZSTD"
    assert pq.read_table(target).equals(expected)
    assert _leftovers(tmp_path) == ["out.parquet"]
    assert "10,000 rows" in str(summary)


def test_write_ipc_file_and_stream(parts_server, tmp_path) -> None:
    expected = _flight(parts_server, "ipc", 2, 100)
    summary = write_ipc(parts_server.location, tmp_path / "a.arrow", path="ipc", progress=False)
    assert summary.rows == 200
    assert ipc.open_file(tmp_path / "a.arrow").read_all().equals(expected)
    write_ipc(
        parts_server.location,
        tmp_path / "a.arrows",
        path="ipc",
        format="stream",
        compression="lz4",
        progress=False,
    )
    assert ipc.open_stream(tmp_path / "a.arrows").read_all().equals(expected)


def test_replacement_dictionaries_need_the_stream_format(flight_server, tmp_path) -> None:
    with pytest.raises(FlightSinkError, match=r"a\.arrow") as caught:
        write_ipc(flight_server.location, tmp_path / "a.arrow", ticket="dictionary", progress=False)
    assert caught.value.path == str(tmp_path / "a.arrow")
    assert _leftovers(tmp_path) == []
    write_ipc(
        flight_server.location,
        tmp_path / "a.arrows",
        ticket="dictionary",
        format="stream",
        progress=False,
    )
    expected = (
        flight.connect(flight_server.location).do_get(flight.Ticket(b"dictionary")).read_all()
    )
    assert ipc.open_stream(tmp_path / "a.arrows").read_all().equals(expected)


def test_bad_arguments_and_unwritable_paths_fail_before_any_call(parts_server, tmp_path) -> None:
    parts_server.add_part("never", numbered(10))
    a_file = tmp_path / "file"
    a_file.write_bytes(b"")
    with pytest.raises(FlightSinkError, match="creating") as caught:
        write_parquet(parts_server.location, a_file / "x.parquet", ticket="never", progress=False)
    assert isinstance(caught.value.__cause__, OSError)
    with pytest.raises(FlightSinkError):
        write_parquet(parts_server.location, tmp_path / "no" / "x.parquet", ticket="never")
    with pytest.raises(FlightSinkError, match="directory"):
        write_parquet(parts_server.location, tmp_path, ticket="never")
    with pytest.raises(flightnb.FlightArgumentError):
        write_parquet(
            parts_server.location, tmp_path / "x.parquet", ticket="never", compression="zip"
        )
    with pytest.raises(flightnb.FlightArgumentError):
        write_parquet(
            parts_server.location, tmp_path / "x.parquet", ticket="never", row_group_size=0
        )
    with pytest.raises(flightnb.FlightArgumentError):
        write_ipc(parts_server.location, tmp_path / "x.arrow", ticket="never", format="feather")
    with pytest.raises(flightnb.FlightArgumentError):
        write_parquet(parts_server.location, tmp_path / "x.parquet")  # nothing to read
    assert parts_server.gets == []
    assert _leftovers(tmp_path) == ["file"]


def test_a_server_dying_mid_write_leaves_nothing(parts_server, tmp_path) -> None:
    parts_server.add_part("dies", numbered(1000), chunk=10, fail_after=20)
    with pytest.raises(flightnb.FlightInternalError, match="on purpose"):
        write_parquet(
            parts_server.location,
            tmp_path / "x.parquet",
            ticket="dies",
            row_group_size=50,
            progress=False,
        )
    assert _leftovers(tmp_path) == []


def _stopped_early(parts_server: PartsServer, name: str) -> bool:
    """The part's producer ended before sending everything: the client cancelled its call.

    The parts given to this take most of a minute to send in full, so a call that was not
    cancelled is still sending when ``wait_stopped``'s bound passes.
    """
    part = parts_server.parts[name]
    return part.wait_stopped() and part.sent < part.batches


def test_a_stall_mid_write_leaves_nothing(parts_server, tmp_path) -> None:
    # 0.5 s between batches (50 s in all), where stall_timeout allows 0.2 s.
    parts_server.add_part("stalls", numbered(1000), chunk=10, delay=0.5)
    with pytest.raises(flightnb.FlightTimedOutError, match="stall_timeout"):
        write_ipc(
            parts_server.location,
            tmp_path / "x.arrow",
            ticket="stalls",
            stall_timeout=0.2,
            progress=False,
        )
    assert _stopped_early(parts_server, "stalls")
    assert _leftovers(tmp_path) == []


def test_an_interrupt_mid_write_leaves_nothing_and_flightnb_stays_usable(
    parts_server, tmp_path
) -> None:
    parts_server.add_part("long", numbered(10_000), chunk=10, delay=0.05)  # 50 s in all
    part = parts_server.parts["long"]

    def interrupt_once_writing() -> None:
        if part.wait_sent(3, timeout=60):  # the write is under way: Ctrl-C
            _thread.interrupt_main()

    interrupter = threading.Thread(target=interrupt_once_writing, daemon=True)
    interrupter.start()
    with pytest.raises(KeyboardInterrupt):
        write_parquet(parts_server.location, tmp_path / "x.parquet", ticket="long", progress=False)
    interrupter.join()
    assert _stopped_early(parts_server, "long")
    assert _leftovers(tmp_path) == []
    parts_server.add_part("short", numbered(10))
    assert (
        write_parquet(
            parts_server.location, tmp_path / "y.parquet", ticket="short", progress=False
        ).rows
        == 10
    )


def _mount_tmpfs(where: Path, size: str) -> bool:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


def test_disk_full_on_a_small_tmpfs(parts_server, tmp_path) -> None:
    """A real ENOSPC: a 1 MiB tmpfs (needs root and mount; skipped otherwise)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if not _mount_tmpfs(mount, "1m"):
        pytest.skip("cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)")
    try:
        parts_server.add_part("big", numbered(4096, payload=1024), chunk=256)  # ~4 MiB
        with pytest.raises(FlightSinkError, match="No space left") as caught:
            write_ipc(parts_server.location, mount / "x.arrow", ticket="big", progress=False)
        assert caught.value.path == str(mount / "x.arrow")
        assert _leftovers(mount) == []
    finally:
        subprocess.run(["umount", str(mount)], check=True)


_FSIZE_CHILD = """
import resource, signal, sys
sys.path.insert(0, sys.argv[2])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # write() then fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
from flightnb.functions.sinks import FlightSinkError, write_ipc
try:
    write_ipc(sys.argv[1], sys.argv[3], ticket="big", progress=False)
except FlightSinkError as error:
    print("FlightSinkError", error.path, type(error.__cause__).__name__)
"""


def test_a_file_size_limit_fails_the_write(parts_server, tmp_path) -> None:
    """Disk full stand-in that needs no root: RLIMIT_FSIZE of 1 MiB in a subprocess."""
    parts_server.add_part("big", numbered(4096, payload=1024), chunk=256)
    target = tmp_path / "x.arrow"
    done = subprocess.run(
        [sys.executable, "-c", _FSIZE_CHILD, parts_server.location, str(HERE), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.split() == ["FlightSinkError", str(target), "OSError"], done.stderr
    assert _leftovers(tmp_path) == []


def test_write_dataset_one_file_per_endpoint(parts_server, tmp_path) -> None:
    expected = _flight(parts_server, "ds", 3, 1000, chunk=100)
    base = tmp_path / "ds"
    summary = write_dataset(parts_server.location, base, path="ds", progress=False)
    assert summary.rows == 3000 and len(summary.files) == 3
    assert _leftovers(base) == [
        MANIFEST_NAME,
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]
    assert ds.dataset(base).to_table().sort_by("n").equals(expected)
    manifest = json.loads((base / MANIFEST_NAME).read_text())
    assert manifest["complete"] and [e["rows"] for e in manifest["endpoints"]] == [1000] * 3
    with pytest.raises(flightnb.FlightAlreadyExistsError):
        write_dataset(parts_server.location, base, path="ds", progress=False)
    again = write_dataset(
        parts_server.location,
        base,
        path="ds",
        max_rows_per_file=400,
        existing_data_behavior="delete_matching",
        format="ipc",
        progress=False,
    )
    assert len(again.files) == 9
    assert all(name.endswith(".arrow") or name == MANIFEST_NAME for name in _leftovers(base))
    assert ds.dataset(base, format="ipc").to_table().sort_by("n").equals(expected)


def test_write_dataset_resumes_only_unfinished_endpoints(parts_server, tmp_path) -> None:
    expected = _flight(parts_server, "rs", 4, 500, chunk=50)
    parts_server.parts["rs/3"].delay = 0.02
    parts_server.parts["rs/3"].fail_after = 8  # fails after the others are done
    base = tmp_path / "rs"
    with pytest.raises(flightnb.FlightInternalError):
        write_dataset(parts_server.location, base, path="rs", progress=False)
    manifest = json.loads((base / MANIFEST_NAME).read_text())
    assert [e["done"] for e in manifest["endpoints"]] == [True, True, True, False]
    assert not manifest["complete"]
    assert "part-00003.parquet" not in _leftovers(base)
    assert not [n for n in _leftovers(base) if n.endswith(".partial")]
    parts_server.parts["rs/3"].fail_after = None
    parts_server.gets.clear()
    summary = write_dataset(parts_server.location, base, path="rs", resume=True, progress=False)
    assert parts_server.gets == [b"rs/3"]
    assert summary.skipped == (0, 1, 2) and summary.skipped_rows == 1500 and summary.rows == 500
    assert ds.dataset(base).to_table().sort_by("n").equals(expected)
    assert json.loads((base / MANIFEST_NAME).read_text())["complete"]


def test_resume_refuses_other_tickets_and_expired_ones(parts_server, tmp_path) -> None:
    _flight(parts_server, "rf", 2, 10)
    base = tmp_path / "rf"
    write_dataset(parts_server.location, base, path="rf", progress=False)
    manifest = json.loads((base / MANIFEST_NAME).read_text())
    manifest["endpoints"][1]["done"] = False
    (base / MANIFEST_NAME).write_text(json.dumps(manifest))
    parts_server.add_flight(
        "rf", [flight.FlightEndpoint(b"rf/1", [parts_server.location])], numbered(1).schema
    )
    with pytest.raises(flightnb.FlightArgumentError, match="other tickets"):
        write_dataset(parts_server.location, base, path="rf", resume=True, progress=False)
    past = pa.scalar(
        dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1), pa.timestamp("us", tz="UTC")
    )
    endpoints = [
        flight.FlightEndpoint(f"rf/{i}".encode(), [parts_server.location], expiration_time=past)
        for i in range(2)
    ]
    parts_server.add_flight("rf", endpoints, numbered(1).schema)
    with pytest.raises(flightnb.FlightArgumentError, match="expired"):
        write_dataset(parts_server.location, base, path="rf", resume=True, progress=False)
    with pytest.raises(flightnb.FlightArgumentError, match="no _flightnb_manifest"):
        write_dataset(parts_server.location, tmp_path / "empty", path="rf", resume=True)
