"""The REST gateway: the partner-facing HTTP contract in front of the gRPC services."""
