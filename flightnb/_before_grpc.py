"""Imported first by ``import flightnb``, before grpc: settings gRPC reads at import time."""

from flightnb.notebook.quiet import quiet_grpc_in_kernels, quiet_grpc_on_command_line

quiet_grpc_in_kernels()
quiet_grpc_on_command_line()
