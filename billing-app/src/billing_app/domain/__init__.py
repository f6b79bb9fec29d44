"""Accounts, money and each order's payment; no Dapr, no FastAPI."""
