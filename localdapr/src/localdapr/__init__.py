"""localdapr: a Dapr-API-compatible local sidecar for development and tests."""

__version__ = "0.1.0"
