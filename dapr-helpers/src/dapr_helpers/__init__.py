"""Dapr plumbing shared by the order saga's four services.

Only what every service repeats lives here: JSON logging with the order id
bound, an async ETag-aware JSON state store and a unit of work over it
(one bulk read, one checked transaction per command), JSON publishing and the
subscription reply, a settings base, a lazily connected Dapr client; and the
order saga's shared
shape (`dapr_helpers.saga`): its message contract, a participant's per-order record
and a participant's command handler.
"""
