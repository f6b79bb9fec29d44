"""Billing service: accounts and the saga steps `charge` / `refund`."""
