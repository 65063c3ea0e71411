"""gRPC plumbing: location URIs, channels, and the translation of gRPC errors."""
