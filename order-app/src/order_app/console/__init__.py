"""The saga console: a read-only web page over the order records (`/console`, landing page `/`).

It only reads what the saga already writes (the order records, the order
counter, the dead-letter log), so it adds no write and no wait to a saga.
"""
