"""Runtime files: how a local server tells its owner's clients its token, and nobody else.

A server started by flightnb writes one small JSON file per running server into a directory
only its OS user can enter (``$FLIGHTNB_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/flightnb``, else
``~/.local/share/flightnb/runtime``), as Jupyter keeps its server files. The file says where the
server listens, its process id, and its token; it is created with mode 0600 from the first
byte (written under a temporary name, then renamed into place) and removed on shutdown.

Both sides use this module: the server to write and remove its file, clients
(:mod:`flightnb.transport.runtime_tokens`) to find a file for the location they dial and to
check it before sending its token anywhere.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "RuntimeEntry",
    "is_loopback_host",
    "read_entries",
    "remove_entry",
    "runtime_dir",
    "write_entry",
]

_PREFIX = "flightnb-server-"
# A runtime directory holds one file per running server; more are not read.
_MAX_ENTRIES = 1000
# A runtime file is a few hundred bytes; anything larger is not ours.
_MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True, repr=False)
class RuntimeEntry:
    """One running server as its runtime file describes it.

    ``kind`` is ``"tcp"`` (``host`` and ``port`` set) or ``"unix"`` (``path`` set).
    """

    pid: int
    kind: str
    host: str
    port: int
    path: str
    token: str

    def __repr__(self) -> str:
        where = self.path if self.kind == "unix" else f"{self.host}:{self.port}"
        return f"RuntimeEntry(pid={self.pid}, {self.kind} {where}, token=***)"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ``::1``, bracketed or not).

    Only servers on such hosts (or unix sockets) publish their token, and only clients of
    them look for one.
    """
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def runtime_dir() -> Path:
    """The directory of this user's runtime files (not created here)."""
    configured = os.environ.get("FLIGHTNB_RUNTIME_DIR")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "flightnb"
    return Path.home() / ".local" / "share" / "flightnb" / "runtime"


def _private_dir(path: Path) -> bool:
    """True when ``path`` is a real directory of this user that nobody else may enter."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    )


def write_entry(*, kind: str, host: str = "", port: int = 0, path: str = "", token: str) -> Path:
    """Write this process's runtime file for a server; returns its path.

    The directory is created with mode 0700; one that exists but is not this user's alone is
    refused (someone else could read or replace the files in it).

    Raises
    ------
    PermissionError
        When the runtime directory is not private to this user.
    """
    directory = runtime_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _private_dir(directory):
        raise PermissionError(
            f"the runtime directory {directory} is not private to this user (want mode 0700, "
            "owned by this user); fix it or set FLIGHTNB_RUNTIME_DIR"
        )
    _clear_dead(directory)
    name = f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}.json"
    body = json.dumps(
        {"pid": os.getpid(), "kind": kind, "host": host, "port": port, "path": path, "token": token}
    ).encode()
    temporary = directory / f".{name}.tmp"
    # O_EXCL and mode 0600 at creation: the token is never in a file others could open.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)
    final = directory / name
    os.replace(temporary, final)
    return final


def _clear_dead(directory: Path) -> None:
    """Remove the files of servers whose process is gone (killed before their shutdown)."""
    try:
        names = sorted(os.listdir(directory))[:_MAX_ENTRIES]
    except OSError:
        return
    for name in names:
        pid = name.removeprefix(_PREFIX).split("-", 1)[0]
        if not name.startswith(_PREFIX) or not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            remove_entry(directory / name)
        except OSError:
            pass  # alive, or not ours to judge


def remove_entry(path: Path) -> None:
    """Remove a runtime file; one already gone is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def read_entries() -> list[RuntimeEntry]:
    """The runtime files this user's servers wrote, as entries; others are skipped.

    Only private regular files of this user, in a private directory, are read; nothing here
    says the server is still running (see :mod:`flightnb.transport.runtime_tokens`).
    """
    directory = runtime_dir()
    if not _private_dir(directory):
        return []
    entries = []
    try:
        names = sorted(os.listdir(directory))[:_MAX_ENTRIES]
    except OSError:
        return []
    for name in names:
        if name.startswith(_PREFIX) and name.endswith(".json"):
            entry = _read_entry(directory / name)
            if entry is not None:
                entries.append(entry)
    return entries


def _read_entry(path: Path) -> RuntimeEntry | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_uid != os.getuid()
            or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
            or info.st_size > _MAX_FILE_BYTES
        ):
            return None
        raw = os.read(fd, _MAX_FILE_BYTES)
    finally:
        os.close(fd)
    try:
        data = json.loads(raw)
        return RuntimeEntry(
            pid=int(data["pid"]),
            kind=str(data["kind"]),
            host=str(data.get("host", "")),
            port=int(data.get("port", 0)),
            path=str(data.get("path", "")),
            token=str(data["token"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
