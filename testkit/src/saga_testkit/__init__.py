"""The test doubles the packages' tests and the benchmark's preload share, kept out of
the services' source (and so out of their images).

- `saga_testkit.dapr`: an in-memory state store (ETags, forced conflicts, call
  counts) and a recording publisher, standing in for the sidecar;
- `saga_testkit.order`: the order app's directory and saga engine, in memory;
- `saga_testkit.fixtures`: the pytest fixtures every package's tests use (a plugin
  of the root conftest.py).
"""
