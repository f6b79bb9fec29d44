"""The order saga as a Dapr Workflow: `saga.py` orchestrates, `activities.py` does the I/O."""
