"""The real Dapr runtime for this project: find or build daprd 1.18.2, start
Postgres, Redis, placement, scheduler and one daprd per app as `dapr run -f`
does, and inspect workflows as `dapr workflow` does."""
