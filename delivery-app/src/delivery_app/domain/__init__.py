"""Couriers, slots, bookings per order; no Dapr, no FastAPI."""
