"""Adapters to Dapr: the order repository (state), the directory (invocation), sagas (workflows)."""
