"""HTTP edge: public routes and error mapping (the command subscription: dapr_helpers.service)."""
