"""Finding the token of one's own local server, and sending it only there.

A client given no credential for a loopback or unix-socket location looks for the runtime
file (:mod:`flightnb.runtime_files`) of a server of the same OS user listening there. Before
the token leaves the process, the client checks that this server still runs, as this user:

* the process named by the file is alive and this user's;
* a TCP port is listened on, on every address, only by sockets of this user (Linux's
  ``/proc/net/tcp``, ``tcp6``): a port another user bound after the server died, or on
  another loopback address (``::1`` beside ``127.0.0.1``), gets no token;
* a unix socket is a socket owned by this user.

The client looks when it is made, and checks again before its first call and whenever the
server rejects the token (a server restarted on the same port with a new one).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from flightnb.errors import FlightUnauthenticatedError
from flightnb.runtime_files import RuntimeEntry, read_entries
from flightnb.transport.locations import ChannelTarget, is_local_target

__all__ = ["runtime_token_source"]

_LISTEN = "0A"
_PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def runtime_token_source(target: ChannelTarget) -> Callable[[], str] | None:
    """A token callable for ``target`` when one of this user's servers runs there, else None.

    Only for loopback and unix locations; the caller asks only when it was given no
    credential of its own.
    """
    if not is_local_target(target):
        return None
    if _find_token(target) is None:
        return None

    def token() -> str:
        found = _find_token(target)
        if found is None:
            raise FlightUnauthenticatedError(
                f"no server of this user runs at {target} any more, so its token is not sent; "
                "pass token=... for a server that is not yours",
                code="UNAUTHENTICATED",
            )
        return found

    return token


def _find_token(target: ChannelTarget) -> str | None:
    for entry in read_entries():
        if _names(entry, target) and _verified(entry):
            return entry.token
    return None


def _names(entry: RuntimeEntry, target: ChannelTarget) -> bool:
    if target.target.startswith("unix:"):
        return entry.kind == "unix" and entry.path == target.target[len("unix:") :]
    port = target.target.rpartition(":")[2]
    return entry.kind == "tcp" and port.isdigit() and entry.port == int(port)


def _verified(entry: RuntimeEntry) -> bool:
    if not _process_is_ours(entry.pid):
        return False
    if entry.kind == "unix":
        try:
            info = os.stat(entry.path)
        except OSError:
            return False
        return stat.S_ISSOCK(info.st_mode) and info.st_uid == os.getuid()
    owners = _listener_owners(entry.port)
    if owners is None:
        return True  # no /proc/net here: the process check alone decides
    return bool(owners) and owners == {os.getuid()}


def _process_is_ours(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # fails for another user's process (unless we are root)
    except (ProcessLookupError, PermissionError):
        return False
    except OSError:
        return False
    proc = Path(f"/proc/{pid}")
    if proc.exists():
        return proc.stat().st_uid == os.getuid()
    return True


def _listener_owners(port: int) -> set[int] | None:
    """The users owning a listening TCP socket on ``port`` (any address); None if unknown."""
    owners: set[int] = set()
    readable = False
    wanted = f"{port:04X}"
    for table in _PROC_NET:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 8 or fields[3] != _LISTEN:
                continue
            if fields[1].rpartition(":")[2] == wanted:
                owners.add(int(fields[7]))
    return owners if readable else None
