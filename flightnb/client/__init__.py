"""The I/O layer: async client on grpc.aio, its blocking facade, and whole-flight reads."""
