"""The order app's use cases: placing orders (`orders`), and waking the requests
that wait for an order's outcome (`outcomes`)."""
