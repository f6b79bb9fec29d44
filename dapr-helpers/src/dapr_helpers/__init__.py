"""Dapr plumbing shared by the order saga's four services.

Only what every service repeats lives here: JSON logging with the order id
bound, an async ETag-aware JSON state store, JSON publishing and the
subscription reply, a settings base, a lazily connected Dapr client, and
in-memory fakes for tests (`dapr_helpers.testing`).
"""
