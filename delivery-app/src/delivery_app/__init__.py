"""Delivery service: couriers, one-hour slots and the saga steps `reserve` / `release`."""
