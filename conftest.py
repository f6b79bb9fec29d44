import os

# Before anything imports grpc: with its fork support on, a child that this process
# forks (every subprocess.Popen: the sidecars, daprd, the apps) restarts gRPC's
# poller between fork and exec, finds the epoll fd closed (close_fds) and aborts,
# so the child dies with -6 before it runs (grpc/grpc#43055). localdapr sets the
# same for the processes it forks.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

# The services' shared test fixtures (order ids, in-memory store and publisher, ...).
pytest_plugins = ["saga_testkit.fixtures"]
