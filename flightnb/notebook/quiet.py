"""Keep gRPC core's log lines out of notebook cells.

gRPC's C core writes its log lines (``ssl_transport_security.cc ... Handshake failed``)
straight to the process's stderr, which a Jupyter kernel forwards into whatever cell runs
next; flightnb already reports every failure as an exception. gRPC reads ``GRPC_VERBOSITY``
once, when ``grpc`` is first imported, so this runs before flightnb imports it. A verbosity
the user set is kept; so is a gRPC imported before flightnb.
"""

from __future__ import annotations

import os
import sys

__all__ = ["quiet_grpc_in_kernels", "quiet_grpc_on_command_line"]

KERNEL_VERBOSITY = "ERROR"
#: Subcommands of ``python -m flightnb`` whose failures are one line of their own.
QUIET_COMMANDS = ("doctor",)


def quiet_grpc_in_kernels() -> bool:
    """In a Jupyter kernel, set ``GRPC_VERBOSITY=ERROR`` unless it is set; True if it did."""
    if "ipykernel" not in sys.modules or "GRPC_VERBOSITY" in os.environ:
        return False
    if "grpc" in sys.modules:
        return False  # too late: gRPC has read its settings
    os.environ["GRPC_VERBOSITY"] = KERNEL_VERBOSITY
    return True


def quiet_grpc_on_command_line(argv: list[str] | None = None) -> bool:
    """For ``python -m flightnb doctor`` (or the ``flightnb`` script), the same as in kernels.

    The doctor says why a server cannot be reached in one line on stderr; gRPC's own lines
    (a failed TLS handshake, say) would come before it. Only these commands are quieted,
    and only when ``GRPC_VERBOSITY`` is unset and gRPC not yet imported.
    """
    argv = sys.argv if argv is None else argv
    # Running ``python -m flightnb``, the package is imported while argv[0] is still "-m".
    launcher = os.path.basename(argv[0]) if argv else ""
    command = argv[1] if len(argv) > 1 else ""
    if launcher not in ("-m", "flightnb") or command not in QUIET_COMMANDS:
        return False
    if "GRPC_VERBOSITY" in os.environ or "grpc" in sys.modules:
        return False
    os.environ["GRPC_VERBOSITY"] = KERNEL_VERBOSITY
    return True
