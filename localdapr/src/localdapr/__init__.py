"""localdapr: a Dapr-API-compatible local sidecar for development and tests."""

import os

# Read when gRPC first loads. localdapr runs on uvloop, which starts the apps with a
# plain fork(); with fork support on, gRPC would log a warning for every app started.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

__version__ = "0.1.0"
