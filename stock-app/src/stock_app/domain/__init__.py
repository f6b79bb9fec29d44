"""Products, reservations per order; no Dapr, no FastAPI."""
